/// An IPv4 or IPv6 network (`10.0.0.0/8`, `::1/128`, or a bare address, which
/// means one host), used for the `trustedProxies` list. Pure parsing and
/// matching: no sockets, no `inet_pton`, so it is unit-tested in isolation.
public struct CIDR: Equatable, Sendable, CustomStringConvertible {
    /// Network address bytes: 4 for IPv4, 16 for IPv6.
    public let address: [UInt8]
    public let prefixLength: Int

    public enum ParseError: Error, Equatable, CustomStringConvertible {
        case invalid(String)

        public var description: String {
            switch self {
            case .invalid(let text):
                "`\(text)` is not an IP address or CIDR (examples: 10.0.0.1, 10.0.0.0/8, ::1, fd00::/8)"
            }
        }
    }

    /// Parses `a.b.c.d[/n]` or an IPv6 address `[/n]`; host bits are masked off.
    public init(_ text: String) throws(ParseError) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2, let bytes = CIDR.parseAddress(String(parts[0])) else { throw .invalid(text) }
        let maxPrefix = bytes.count * 8
        var prefix = maxPrefix
        if parts.count == 2 {
            guard let n = Int(parts[1]), (0...maxPrefix).contains(n), parts[1].allSatisfy(\.isASCII) else {
                throw .invalid(text)
            }
            prefix = n
        }
        address = CIDR.mask(bytes, prefix)
        prefixLength = prefix
    }

    /// Whether `ip` (textual, as the peer address arrives) is inside this network.
    /// An IPv4-mapped IPv6 peer (`::ffff:10.0.0.1`) matches IPv4 networks.
    public func contains(_ ip: String) -> Bool {
        guard var bytes = CIDR.parseAddress(ip) else { return false }
        if bytes.count == 16, address.count == 4, bytes[0..<12] == [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff][...] {
            bytes = Array(bytes[12...])
        }
        guard bytes.count == address.count else { return false }
        return CIDR.mask(bytes, prefixLength) == address
    }

    public var description: String {
        let text = address.count == 4
            ? address.map(String.init).joined(separator: ".")
            : stride(from: 0, to: 16, by: 2).map { String(UInt16(address[$0]) << 8 | UInt16(address[$0 + 1]), radix: 16) }
                .joined(separator: ":")
        return "\(text)/\(prefixLength)"
    }

    static func mask(_ bytes: [UInt8], _ prefix: Int) -> [UInt8] {
        bytes.enumerated().map { index, byte in
            let bits = min(max(prefix - index * 8, 0), 8)
            return bits == 8 ? byte : byte & ~(UInt8(0xff) >> bits)
        }
    }

    /// 4 bytes for dotted-quad IPv4, 16 for IPv6 (with `::` and an IPv4 tail), else nil.
    static func parseAddress(_ text: String) -> [UInt8]? {
        if !text.contains(":") { return parseIPv4(Substring(text)) }
        var text = Substring(text)
        if let zone = text.firstIndex(of: "%") { text = text[..<zone] }  // fe80::1%eth0
        var tail: [UInt8] = []
        if let lastColon = text.lastIndex(of: ":"), text[text.index(after: lastColon)...].contains(".") {
            guard let v4 = parseIPv4(text[text.index(after: lastColon)...]) else { return nil }
            tail = v4
            text = text[...lastColon]
            if text.hasSuffix(":") && !text.hasSuffix("::") { text = text.dropLast() }
        }
        var halves: [String] = []
        var rest = text
        while let range = rest.firstRange(of: "::") {
            halves.append(String(rest[..<range.lowerBound]))
            rest = rest[range.upperBound...]
        }
        halves.append(String(rest))
        guard halves.count <= 2 else { return nil }
        func groups(_ s: String) -> [UInt8]? {
            if s.isEmpty { return [] }
            var out: [UInt8] = []
            for group in s.split(separator: ":", omittingEmptySubsequences: false) {
                guard (1...4).contains(group.count), let value = UInt16(group, radix: 16) else { return nil }
                out += [UInt8(value >> 8), UInt8(value & 0xff)]
            }
            return out
        }
        guard let head = groups(halves[0]) else { return nil }
        if halves.count == 1 {
            let all = head + tail
            return all.count == 16 ? all : nil
        }
        guard let rest = groups(halves[1]) else { return nil }
        let known = head.count + rest.count + tail.count
        guard known <= 14 else { return nil }
        return head + [UInt8](repeating: 0, count: 16 - known) + rest + tail
    }

    static func parseIPv4(_ text: Substring) -> [UInt8]? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var out: [UInt8] = []
        for part in parts {
            guard (1...3).contains(part.count), part.allSatisfy({ $0.isASCII && $0.isNumber }),
                  let value = UInt8(part) else { return nil }
            out.append(value)
        }
        return out
    }
}

/// The `X-Forwarded-For` value the app sees: the client's chain plus the peer
/// when the peer is a trusted proxy, else only the peer (a client cannot
/// spoof its address by sending the header itself).
public enum ForwardedFor {
    public static func value(clientHeader: String?, peer: String, trusted: [CIDR]) -> String {
        guard let clientHeader, !clientHeader.isEmpty, trusted.contains(where: { $0.contains(peer) }) else {
            return peer
        }
        return "\(clientHeader), \(peer)"
    }
}
