import Testing
@testable import TidepoolCore

/// The host's id tables hash with `IDHashing` instead of SipHash: they must
/// still behave exactly as Dictionary and Set, and spread the ids the host
/// hands out (counters) over the buckets.
@Suite struct IDHashingTests {
    @Test func wireTablesAgreeWithDictionaryAndSetOverRandomOperations() {
        var random = SplitMix64(seed: 8)
        var table = WireIDTable<Int>()
        var reference: [UInt32: Int] = [:]
        var set = WireIDSet()
        var referenceSet: Set<UInt32> = []
        for step in 0..<20_000 {
            // Ids from a narrow range, so removals and re-insertions meet live keys.
            let id = UInt32(random.next() % 512) &+ (step % 3 == 0 ? UInt32.max - 256 : 0)
            switch random.next() % 5 {
            case 0, 1:
                table[id] = step
                reference[id] = step
                #expect(set.insert(id) == referenceSet.insert(id).inserted)
            case 2:
                #expect(table.removeValue(forKey: id) == reference.removeValue(forKey: id))
                #expect(set.remove(id) == (referenceSet.remove(id) != nil))
            case 3:
                table[id]? += 1  // in place, through `_modify`
                reference[id]? += 1
            default:
                #expect(table[id] == reference[id])
                #expect(set.contains(id) == referenceSet.contains(id))
            }
        }
        #expect(table.count == reference.count)
        #expect(table.isEmpty == reference.isEmpty)
        #expect(table.values.sorted() == reference.values.sorted())
        #expect(set.sorted() == referenceSet.sorted())
        #expect(set.count == referenceSet.count)
        table.removeAll()
        #expect(table.isEmpty && table[0] == nil)
    }

    @Test func equalIDsHashEquallyAndTheSeedChangesTheLayout() {
        for raw in [0, 1, 2, 77, UInt64(UInt32.max), UInt64.max] {
            #expect(RequestID(raw)._rawHashValue(seed: 5) == RequestID(raw)._rawHashValue(seed: 5))
            #expect(RequestID(raw)._rawHashValue(seed: 5) != RequestID(raw)._rawHashValue(seed: 6))
        }
        #expect(InstanceID(-1)._rawHashValue(seed: 0) == InstanceID(-1)._rawHashValue(seed: 0))
        #expect(Set([RequestID(1), RequestID(1), RequestID(2)]).count == 2)
    }

    /// Dictionary takes a hash's low bits as its bucket. 4,096 consecutive
    /// ids in a table of 8,192 buckets must not pile up: SipHash leaves
    /// about 3,200 buckets used; a hash that kept the ids' order in its high
    /// bits alone would use 1.
    @Test func consecutiveIDsSpreadOverTheLowBits() {
        for seed in [0, 1, -7, Int.max] {
            for start in [UInt64(0), 1 << 32, UInt64(UInt32.max) - 2_000] {
                let buckets = Set((start..<start + 4_096).map { IDHashing.mix($0, seed: seed) & 8_191 })
                #expect(buckets.count > 3_000, "seed \(seed), ids from \(start): \(buckets.count) buckets")
            }
        }
    }
}
