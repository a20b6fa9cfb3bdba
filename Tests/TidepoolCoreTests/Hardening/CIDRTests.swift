import Testing
@testable import TidepoolCore

@Suite struct CIDRTests {
    @Test func ipv4NetworkMatches() throws {
        let net = try CIDR("10.1.0.0/16")
        #expect(net.contains("10.1.2.3"))
        #expect(net.contains("10.1.255.255"))
        #expect(!net.contains("10.2.0.1"))
        #expect(!net.contains("::1"))
        #expect(!net.contains("not an ip"))
    }

    @Test func bareAddressIsOneHost() throws {
        let host = try CIDR("127.0.0.1")
        #expect(host.prefixLength == 32)
        #expect(host.contains("127.0.0.1"))
        #expect(!host.contains("127.0.0.2"))
    }

    @Test func hostBitsAreMasked() throws {
        #expect(try CIDR("192.168.1.77/24").description == "192.168.1.0/24")
        #expect(try CIDR("10.0.0.0/0").contains("203.0.113.9"))
        #expect(try CIDR("10.1.2.3/12").contains("10.15.0.1"))
        #expect(!(try CIDR("10.1.2.3/12").contains("10.16.0.1")))
    }

    @Test func ipv6() throws {
        let loopback = try CIDR("::1")
        #expect(loopback.contains("::1"))
        #expect(loopback.contains("0:0:0:0:0:0:0:1"))
        #expect(!loopback.contains("::2"))
        let ula = try CIDR("fd00::/8")
        #expect(ula.contains("fd12:3456::1"))
        #expect(!ula.contains("fe80::1"))
        #expect(try CIDR("fe80::/10").contains("fe80::1%eth0"))
        #expect(try CIDR("2001:db8::/32").contains("2001:db8:ffff::"))
    }

    @Test func ipv4MappedPeerMatchesIPv4Network() throws {
        #expect(try CIDR("10.0.0.0/8").contains("::ffff:10.9.8.7"))
        #expect(!(try CIDR("10.0.0.0/8").contains("::ffff:11.9.8.7")))
        #expect(try CIDR("::ffff:0:0/96").contains("::ffff:1.2.3.4"))
    }

    @Test(arguments: ["", "10.0.0", "10.0.0.256", "10.0.0.0/33", "10.0.0.0/-1", "10.0.0.0/", "1.2.3.4/8/9",
                      "::1/129", "1:2:3:4:5:6:7:8:9", "1::2::3", "12345::", "g::1", " 10.0.0.1", "01234.1.1.1"])
    func rejectsInvalid(_ text: String) {
        #expect(throws: CIDR.ParseError.self) { try CIDR(text) }
    }

    @Test func forwardedForTrustsOnlyConfiguredPeers() throws {
        let trusted = [try CIDR("10.0.0.0/8")]
        #expect(ForwardedFor.value(clientHeader: "1.1.1.1", peer: "10.0.0.5", trusted: trusted) == "1.1.1.1, 10.0.0.5")
        #expect(ForwardedFor.value(clientHeader: "1.1.1.1", peer: "8.8.8.8", trusted: trusted) == "8.8.8.8")
        #expect(ForwardedFor.value(clientHeader: nil, peer: "10.0.0.5", trusted: trusted) == "10.0.0.5")
        #expect(ForwardedFor.value(clientHeader: "1.1.1.1", peer: "127.0.0.1", trusted: []) == "127.0.0.1")
    }
}
