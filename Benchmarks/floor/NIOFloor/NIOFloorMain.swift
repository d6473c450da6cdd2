// The floor under NIO: what `relay-floor.c`'s relay does (pair up accepted connections, copy what
// one of a pair sends to the other), written as a NIO server with one handler per connection on
// one event loop. Against the C relay it shows what NIO's channels and pipelines cost per
// delivery; against the relay, what the WebSocket, the room and the writer task add.
//
//   ENABLE_BENCHMARKS=1 swift build -c release --scratch-path .build-bench --product nio-floor
//   RELAY=.build-bench/release/nio-floor Benchmarks/floor/run-floor.sh 500 30 15

import Glibc
import NIOCore
import NIOPosix

/// Pairs connections in the order they are accepted and counts deliveries; used on one event loop.
final class Pairing {
    var waiting: PairedRelayHandler?
    var open = 0
    var deliveries = 0
    var cpuAtFirst = 0.0
    var wallAtFirst = 0.0

    func delivered() {
        if self.deliveries == 0 {
            self.cpuAtFirst = Self.seconds(CLOCK_PROCESS_CPUTIME_ID)
            self.wallAtFirst = Self.seconds(CLOCK_MONOTONIC)
        }
        self.deliveries += 1
    }

    /// Prints the figures `relay-floor.c` prints, once every connection has closed.
    func closed() {
        self.open -= 1
        guard self.open == 0, self.deliveries > 0 else { return }
        let cpu = Self.seconds(CLOCK_PROCESS_CPUTIME_ID) - self.cpuAtFirst
        let wall = Self.seconds(CLOCK_MONOTONIC) - self.wallAtFirst
        let perDelivery = 1e6 * cpu / Double(self.deliveries)
        print(
            "nio-floor: \(self.deliveries) deliveries in \(Self.format(wall)) s, CPU \(Self.format(cpu)) s "
                + "(\(Int(100 * cpu / wall))% of one core), \(Self.format(perDelivery)) µs per delivery")
        exit(0)
    }

    private static func seconds(_ clock: clockid_t) -> Double {
        var now = timespec()
        clock_gettime(clock, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
    }

    private static func format(_ value: Double) -> String {
        String(Double(Int((value * 100).rounded())) / 100)
    }
}

/// One connection: whatever it reads goes to its peer's socket, flushed at once.
final class PairedRelayHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    let pairing: Pairing
    var context: ChannelHandlerContext?
    var peer: PairedRelayHandler?

    init(pairing: Pairing) { self.pairing = pairing }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        self.pairing.open += 1
        if let waiting = self.pairing.waiting {
            self.peer = waiting
            waiting.peer = self
            self.pairing.waiting = nil
        } else {
            self.pairing.waiting = self
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let peer = self.peer?.context else { return }
        peer.writeAndFlush(data, promise: nil)
        self.pairing.delivered()
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.pairing.closed()
    }
}

let arguments = CommandLine.arguments
guard arguments.count == 3, arguments[1] == "relay", let port = Int(arguments[2]) else {
    print("usage: nio-floor relay PORT")
    exit(2)
}
let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
let loop = group.next()
let pairing = try loop.submit { NIOLoopBound(Pairing(), eventLoop: loop) }.wait()
let server = try ServerBootstrap(group: group)
    .serverChannelOption(ChannelOptions.backlog, value: 4096)
    .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
    .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
    .childChannelInitializer { channel in
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(PairedRelayHandler(pairing: pairing.value))
        }
    }
    .bind(host: "127.0.0.1", port: port).wait()
try server.closeFuture.wait()
