import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

@testable import RelayServer

/// A body sent in many chunks reaches the server's routes in one part per socket read.
@Suite("BodyPartCoalescer")
struct BodyPartCoalescerTests {
    private static func chunked(_ body: String, chunkSize: Int) -> String {
        let bytes = Array(body.utf8)
        var framed = "POST /api/scores HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        for start in stride(from: 0, to: bytes.count, by: chunkSize) {
            let chunk = bytes[start..<min(start + chunkSize, bytes.count)]
            framed += String(chunk.count, radix: 16) + "\r\n" + String(decoding: chunk, as: UTF8.self) + "\r\n"
        }
        return framed + "0\r\n\r\n"
    }

    private static func channel() throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandlers([
            ByteToMessageHandler(HTTPRequestDecoder()), BodyPartCoalescer(),
        ])
        return channel
    }

    /// The parts that came out, bodies as text.
    private static func parts(_ channel: EmbeddedChannel) throws -> [String] {
        var parts: [String] = []
        while let part = try channel.readInbound(as: HTTPServerRequestPart.self) {
            switch part {
            case .head(let head): parts.append("head \(head.uri)")
            case .body(let body): parts.append("body \(String(buffer: body))")
            case .end: parts.append("end")
            }
        }
        return parts
    }

    @Test func chunksOfOneReadGoOnAsOnePart() throws {
        let channel = try Self.channel()
        let body = #"{"player_name":"chunky","score":7}"#
        try channel.writeInbound(ByteBuffer(string: Self.chunked(body, chunkSize: 1)))
        #expect(try Self.parts(channel) == ["head /api/scores", "body \(body)", "end"])
        #expect(try channel.finish().isClean)
    }

    @Test func eachReadHandsOnWhatItHad() throws {
        let channel = try Self.channel()
        let request = Self.chunked("abcdefgh", chunkSize: 2)
        let cut = request.index(request.range(of: "\r\n\r\n")!.upperBound, offsetBy: 12)  // after "2\r\nab\r\n2\r\ncd"
        try channel.writeInbound(ByteBuffer(string: String(request[..<cut])))
        #expect(try Self.parts(channel) == ["head /api/scores", "body abcd"])
        try channel.writeInbound(ByteBuffer(string: String(request[cut...])))
        #expect(try Self.parts(channel) == ["body efgh", "end"])
        #expect(try channel.finish().isClean)
    }

    @Test("A score sent in 1-byte chunks over a real socket is stored whole")
    func liveChunkedScore() async throws {
        let body =
            #"{"player_name":"chunky","score":77,"coins":0,"enemies_defeated":0,"distance":0,"level":1,"game_mode":"x"}"#
        let request = Self.chunked(body, chunkSize: 1).replacingOccurrences(
            of: "Host: x\r\n",
            with: "Host: x\r\nX-API-Key: \(testAPIKey)\r\nContent-Type: application/json\r\nConnection: close\r\n")
        try await withRelayServer { port, _ in
            let answer = try await rawExchange(port: port, request)
            #expect(answer.hasPrefix("HTTP/1.1 200"), "\(answer)")
            #expect(answer.contains(#""player_name":"chunky","score":77"#), "\(answer)")
        }
    }

    @Test func anUpgradeTakesItOutOfThePipeline() throws {
        let channel = try Self.channel()
        try channel.writeInbound(
            ByteBuffer(
                string: "GET /ws/room/new HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"))
        #expect(try Self.parts(channel) == ["head /ws/room/new", "end"])
        #expect(throws: (any Error).self) { try channel.pipeline.syncOperations.handler(type: BodyPartCoalescer.self) }
        _ = try channel.finish()
    }

    /// NIO's decoder hands on what it still holds when the connection ends, and then no
    /// `channelReadComplete` comes: what waits goes on as the connection goes.
    @Test func theConnectionsEndHandsOnWhatWaits() throws {
        let channel = EmbeddedChannel(handler: BodyPartCoalescer())
        for text in ["ab", "cd"] {
            channel.pipeline.fireChannelRead(HTTPServerRequestPart.body(ByteBuffer(string: text)))
        }
        #expect(try Self.parts(channel) == [])
        channel.pipeline.fireChannelInactive()
        #expect(try Self.parts(channel) == ["body abcd"])
        _ = try? channel.finish()
    }
}
