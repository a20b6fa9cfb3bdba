/// An instance's concurrency limit, lowered while its interpreter is
/// CPU-saturated and raised again when it is not (AIMD, as TCP does for its
/// window).
///
/// Why learn a limit rather than only refusing work while saturated: the CPU
/// share is measured over a window, so it lags. Without memory, a saturated
/// instance stops taking work, a fresh one takes the whole backlog before its
/// own share shows, and the two swap roles forever with every request piled
/// on one interpreter. With a learned limit, a CPU-bound app settles near one
/// request per interpreter and scales out; an I/O-bound app never saturates
/// and keeps its full slots. New instances start from the limit their
/// siblings learned (it is the same app).
extension InstanceRecord {
    /// Requests it may run at once: the mode's slots, or fewer if learned.
    public func slotLimit(slots: Int) -> Int {
        max(1, min(slots, concurrencyLimit))
    }

    /// Requests it can take at the target, for capacity planning: a learned
    /// limit is already the edge of saturation (no further margin); otherwise
    /// slots × target utilisation.
    public func plannedCapacity(slots: Int, targetUtilisation: Double) -> Double {
        concurrencyLimit < slots ? Double(concurrencyLimit) : Double(slots) * targetUtilisation
    }

    /// What its in-flight requests need, in instances. A saturated busy
    /// instance is full: exactly 1 ("its capacity is what it runs").
    public func demandInInstances(slots: Int, targetUtilisation: Double, threshold: Double, now: Instant) -> Double {
        if inFlight.isEmpty { return 0 }
        if isHeldBySaturation(at: now, threshold: threshold) { return 1 }
        let n = Double(inFlight.count)
        if concurrencyLimit < slots { return min(1, n / Double(concurrencyLimit)) }
        return n / (Double(slots) * targetUtilisation)
    }

    /// Adjusts the limit from the current CPU share, at most once per `period`:
    /// saturated with work → halve (from what it runs, down to 1); clearly
    /// idle CPU (below half the threshold) → double; below the threshold and
    /// the limit is what holds it back → one more.
    mutating func adaptConcurrencyLimit(slots: Int, threshold: Double, period: Duration, now: Instant) {
        guard isServing, now - limitChangedAt >= period else { return }
        let share = cpu.share(at: now)
        let limit = slotLimit(slots: slots)
        var next = limit
        if share >= threshold, !inFlight.isEmpty {
            next = max(1, min(limit, inFlight.count) / 2)
        } else if share < threshold, inFlight.count >= limit, limit < slots {
            next = share < threshold / 2 ? limit * 2 : limit + 1
        }
        guard next != limit else { return }
        concurrencyLimit = next >= slots ? Int.max : next
        limitChangedAt = now
    }
}
