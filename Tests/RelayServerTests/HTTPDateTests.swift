import Testing

@testable import RelayServer

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

@Suite("The Date header of answers written outside the router")
struct HTTPDateTests {
    @Test("IMF-fixdate in UTC, as RFC 9110 spells it")
    func imfFixdate() {
        #expect(HTTPDate.header(secondsSince1970: 784_111_777) == "Sun, 06 Nov 1994 08:49:37 GMT")  // RFC 9110's
        #expect(HTTPDate.header(secondsSince1970: 0) == "Thu, 01 Jan 1970 00:00:00 GMT")
        #expect(HTTPDate.header(secondsSince1970: 951_868_799) == "Tue, 29 Feb 2000 23:59:59 GMT")
        #expect(HTTPDate.header(secondsSince1970: 4_102_444_800) == "Fri, 01 Jan 2100 00:00:00 GMT")
    }

    /// Whether `value` is the date of a second within the last minute.
    static func isRecent(_ value: String) -> Bool {
        let now = Int(time(nil))
        return (now - 60...now + 1).contains { HTTPDate.header(secondsSince1970: $0) == value }
    }
}
