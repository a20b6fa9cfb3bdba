/// A line or bar chart as inline SVG, no scripts or external assets, so the
/// report opens offline. Every chart of a report gets the same x domain (the
/// run's seconds) and the same width, so they line up on one time axis.
public struct SVGChart: Sendable {
    public struct Series: Sendable {
        public var name: String
        public var color: String
        /// One value per second; nil leaves a gap.
        public var values: [Double?]
        public var bars: Bool

        public init(name: String, color: String, values: [Double?], bars: Bool = false) {
            self.name = name
            self.color = color
            self.values = values
            self.bars = bars
        }
    }

    public var title: String
    public var unit: String
    public var seconds: Int
    public var series: [Series]
    /// Phase boundaries (second, name), drawn as dashed verticals.
    public var markers: [(second: Double, label: String)]

    public static let width = 960.0
    public static let height = 170.0
    static let left = 56.0
    static let right = 12.0
    static let top = 22.0
    static let bottom = 24.0

    public init(title: String, unit: String, seconds: Int, series: [Series], markers: [(second: Double, label: String)]) {
        self.title = title
        self.unit = unit
        self.seconds = max(seconds, 1)
        self.series = series
        self.markers = markers
    }

    public func render() -> String {
        let plotW = Self.width - Self.left - Self.right
        let plotH = Self.height - Self.top - Self.bottom
        let peak = series.flatMap { $0.values.compactMap { $0 } }.max() ?? 0
        let yMax = Self.niceCeiling(max(peak, 1))
        func x(_ s: Double) -> Double { Self.left + plotW * s / Double(seconds) }
        func y(_ v: Double) -> Double { Self.top + plotH * (1 - v / yMax) }
        var out = "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" width=\"\(Self.width)\" height=\"\(Self.height)\" viewBox=\"0 0 \(Self.width) \(Self.height)\">\n"
        out += "<text x=\"\(Self.left)\" y=\"14\" class=\"title\">\(escape(title)) (\(escape(unit)))</text>\n"
        // Axes, gridlines and ticks.
        for i in 0...4 {
            let v = yMax * Double(i) / 4
            out += "<line x1=\"\(Self.left)\" x2=\"\(Self.width - Self.right)\" y1=\"\(r(y(v)))\" y2=\"\(r(y(v)))\" class=\"grid\"/>"
            out += "<text x=\"\(Self.left - 4)\" y=\"\(r(y(v) + 4))\" text-anchor=\"end\" class=\"tick\">\(Self.label(v))</text>\n"
        }
        let step = Self.niceCeiling(Double(seconds) / 10)
        var s = 0.0
        while s <= Double(seconds) {
            out += "<text x=\"\(r(x(s)))\" y=\"\(Self.height - 8)\" text-anchor=\"middle\" class=\"tick\">\(Self.label(s))s</text>"
            s += step
        }
        for marker in markers {
            out += "<line x1=\"\(r(x(marker.second)))\" x2=\"\(r(x(marker.second)))\" y1=\"\(Self.top)\" y2=\"\(Self.top + plotH)\" class=\"phase\"/>"
            out += "<text x=\"\(r(x(marker.second) + 3))\" y=\"\(Self.top + 10)\" class=\"phase-label\">\(escape(marker.label))</text>\n"
        }
        // Data.
        let barW = max(plotW / Double(seconds) - 1, 1)
        for item in series {
            if item.bars {
                for (i, value) in item.values.enumerated() {
                    guard let value, value > 0 else { continue }
                    out += "<rect x=\"\(r(x(Double(i))))\" y=\"\(r(y(value)))\" width=\"\(r(barW))\" height=\"\(r(y(0) - y(value)))\" fill=\"\(item.color)\"><title>\(i)s: \(Self.label(value))</title></rect>"
                }
                out += "\n"
                continue
            }
            var segments: [[String]] = [[]]
            for (i, value) in item.values.enumerated() {
                if let value {
                    segments[segments.count - 1].append("\(r(x(Double(i) + 0.5))),\(r(y(value)))")
                } else if !(segments.last?.isEmpty ?? true) {
                    segments.append([])
                }
            }
            for points in segments where !points.isEmpty {
                out += "<polyline fill=\"none\" stroke=\"\(item.color)\" stroke-width=\"1.6\" points=\"\(points.joined(separator: " "))\"/>\n"
            }
        }
        // Legend.
        var lx = Self.left + 260
        for item in series {
            out += "<rect x=\"\(r(lx))\" y=\"6\" width=\"10\" height=\"10\" fill=\"\(item.color)\"/><text x=\"\(r(lx + 14))\" y=\"15\" class=\"tick\">\(escape(item.name))</text>"
            lx += 20 + Double(item.name.count) * 7
        }
        return out + "\n</svg>\n"
    }

    /// 1, 2, 2.5, 5 × 10^k at or above `v`.
    static func niceCeiling(_ v: Double) -> Double {
        guard v > 0 else { return 1 }
        var magnitude = 1.0
        while magnitude * 10 <= v { magnitude *= 10 }
        while magnitude > v { magnitude /= 10 }
        for factor in [1.0, 2, 2.5, 5, 10] where factor * magnitude >= v { return factor * magnitude }
        return 10 * magnitude
    }

    static func label(_ v: Double) -> String {
        if v >= 1000, v.truncatingRemainder(dividingBy: 1000) == 0 { return "\(Int(v / 1000))k" }
        if v == v.rounded() { return "\(Int(v))" }
        return "\((v * 100).rounded() / 100)"
    }

    private func r(_ v: Double) -> String { "\((v * 10).rounded() / 10)" }
}

func escape(_ text: String) -> String {
    var out = ""
    for ch in text {
        switch ch {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        default: out.append(ch)
        }
    }
    return out
}
