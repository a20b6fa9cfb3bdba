import Foundation

/// A JSON document as a plain tree, so `VercelConfigParser` can walk it with
/// its own paths and say `redirects[2].permanent must be a boolean` instead of
/// a Codable error. Booleans and numbers stay distinct (JSONDecoder refuses to
/// read `true` as a number or `1` as a boolean), which `JSONSerialization`'s
/// `NSNumber` would blur on Linux.
enum JSONValue: Equatable, Sendable, Decodable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let b = try? container.decode(Bool.self) {
            self = .bool(b)
        } else if let d = try? container.decode(Double.self) {
            self = .number(d)
        } else if let s = try? container.decode(String.self) {
            self = .string(s)
        } else if let a = try? container.decode([JSONValue].self) {
            self = .array(a)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    /// What the value is, for "must be a boolean, not a string" messages.
    var kindName: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .number: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }

    /// Parses `data`. JSONDecoder on Linux says only "not valid JSON", so on
    /// failure JSONSerialization is asked for the offset, turned into line:column.
    static func parse(_ data: Data) throws(JSONSyntaxError) -> JSONValue {
        do {
            return try JSONDecoder().decode(JSONValue.self, from: data)
        } catch {
            throw JSONSyntaxError(reason: syntaxDetail(data))
        }
    }

    /// JSONSerialization's "Invalid value around character 19." plus line:column.
    static func syntaxDetail(_ data: Data) -> String {
        do {
            _ = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
        } catch {
            guard let detail = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String else { return "\(error)" }
            guard let offset = detail.split(separator: " ").last.flatMap({ Int($0.trimmingCharacters(in: .punctuationCharacters)) }) else {
                return detail
            }
            return detail + " (\(location(of: offset, in: data)))"
        }
        return "the data is not valid JSON"
    }

    /// `line 2, column 15` for a byte offset.
    static func location(of offset: Int, in data: Data) -> String {
        var line = 1
        var column = 1
        for byte in data.prefix(offset) {
            if byte == UInt8(ascii: "\n") {
                line += 1
                column = 1
            } else {
                column += 1
            }
        }
        return "line \(line), column \(column)"
    }
}

/// Malformed JSON, with the parser's own explanation.
struct JSONSyntaxError: Error {
    var reason: String
}
