/// Which waiting request goes to the registry next, and how many may be there at once: a plain
/// value, no I/O, no lock (``RegistryAdmission`` wraps it).
///
/// Requests read from Kafka wait here, not at the registry client: at most ``capacity`` are
/// admitted (asking the registry, or queued for a rate-limit slot) at a time, sized from the rate
/// limit so that the limiter always has calls waiting but each waits at most about a second for
/// its slot. The rest wait in per-agency queues served by weighted round robin: on its turn an
/// agency may send up to its weight, so one agency's backlog never delays another's next request
/// by more than one round. Within an agency, each channel has its own FIFO queue and the queue
/// whose first request's deadline comes first goes first (a counter's 15 s before a submission's
/// 24 h). A request whose deadline passes while it waits is handed back as expired, so that it
/// gets its `unavailable` verdict at once instead of after its turn.
struct AdmissionSchedule {
    struct Waiter {
        var id: UInt64
        var deadline: ContinuousClock.Instant?
    }

    /// Requests admitted at most at once.
    private(set) var capacity: Int
    /// Requests admitted and not finished.
    private(set) var admitted = 0
    /// Requests waiting.
    private(set) var waiting = 0

    private var agencies: [String: [Queue<Waiter>]] = [:]
    /// Agencies with requests waiting, in service order; the first is being served.
    private var order = Queue<String>()
    /// What the agency being served may still take in this turn.
    private var credit = 0
    /// Waiting requests and their agency (a cancelled one is dropped from here and skipped when
    /// it comes up in its queue).
    private var live: [UInt64: String] = [:]
    private var liveByAgency: [String: Int] = [:]
    private let weights: [String: Int]
    private let defaultWeight: Int
    private let queuesPerAgency: Int

    /// - Parameters:
    ///   - capacity: requests admitted at once at most (at least 1).
    ///   - weights: requests an agency may take per turn, where not `defaultWeight`.
    ///   - queuesPerAgency: FIFO queues within an agency (one per channel).
    init(capacity: Int, weights: [String: Int] = [:], defaultWeight: Int = 1, queuesPerAgency: Int = 3) {
        self.capacity = max(1, capacity)
        self.weights = weights
        self.defaultWeight = max(1, defaultWeight)
        self.queuesPerAgency = max(1, queuesPerAgency)
    }

    /// Adds a request; returns the requests admitted now (this one, if capacity is free and nobody waits before it).
    mutating func enqueue(_ id: UInt64, agency: String, queue: Int, deadline: ContinuousClock.Instant?) -> [UInt64] {
        if self.waiting == 0, self.admitted < self.capacity {
            // Nobody waits and there is room: no queue and no turn to take (the common case below
            // the capacity; the queues' bookkeeping cost about 2 % of a burst's CPU).
            self.admitted += 1
            return [id]
        }
        if self.agencies[agency] == nil {
            self.agencies[agency] = Array(repeating: Queue<Waiter>(), count: self.queuesPerAgency)
        }
        if (self.liveByAgency[agency] ?? 0) == 0, !self.order.contains(agency) {
            self.order.append(agency)
            if self.order.count == 1 { self.credit = 0 }
        }
        self.agencies[agency]![min(max(queue, 0), self.queuesPerAgency - 1)].append(Waiter(id: id, deadline: deadline))
        self.live[id] = agency
        self.liveByAgency[agency, default: 0] += 1
        self.waiting += 1
        return self.admit()
    }

    /// Changes how many may be admitted at once; returns the requests admitted now (when raised).
    /// Lowered below those admitted, no more are admitted until enough have finished.
    mutating func setCapacity(_ capacity: Int) -> [UInt64] {
        self.capacity = max(1, capacity)
        return self.admit()
    }

    /// An admitted request is done with the registry; returns the requests admitted in its place.
    mutating func finish() -> [UInt64] {
        precondition(self.admitted > 0, "AdmissionSchedule: finish without an admitted request")
        self.admitted -= 1
        return self.admit()
    }

    /// Drops a waiting request (cancelled); `false` if it was not waiting.
    mutating func cancel(_ id: UInt64) -> Bool {
        guard let agency = self.live.removeValue(forKey: id) else { return false }
        self.forget(agency)
        return true
    }

    /// Removes the waiting requests whose deadline is at or before `instant` (only those at the
    /// front of their queue: within a channel, deadlines follow consumption order).
    mutating func expire(at instant: ContinuousClock.Instant) -> [UInt64] {
        var expired: [UInt64] = []
        for agency in Array(self.agencies.keys) {
            for index in 0..<self.queuesPerAgency {
                while let head = self.agencies[agency]![index].first {
                    if self.live[head.id] == nil {
                        _ = self.agencies[agency]![index].removeFirst()
                        continue
                    }
                    guard let deadline = head.deadline, deadline <= instant else { break }
                    _ = self.agencies[agency]![index].removeFirst()
                    self.live.removeValue(forKey: head.id)
                    self.forget(agency)
                    expired.append(head.id)
                }
            }
            if (self.liveByAgency[agency] ?? 0) == 0, self.agencies[agency]!.allSatisfy(\.isEmpty) {
                self.agencies.removeValue(forKey: agency)
            }
        }
        return expired
    }

    /// Removes every waiting request (shutting down).
    mutating func removeAll() -> [UInt64] {
        let all = Array(self.live.keys)
        self.live.removeAll()
        self.liveByAgency.removeAll()
        self.agencies.removeAll()
        self.order = Queue()
        self.waiting = 0
        self.credit = 0
        return all
    }

    private mutating func forget(_ agency: String) {
        self.waiting -= 1
        self.liveByAgency[agency, default: 1] -= 1
        if self.liveByAgency[agency] == 0 { self.liveByAgency.removeValue(forKey: agency) }
    }

    private mutating func admit() -> [UInt64] {
        var granted: [UInt64] = []
        while self.admitted < self.capacity, let id = self.next() {
            self.admitted += 1
            granted.append(id)
        }
        return granted
    }

    /// The next waiting request in fair order.
    private mutating func next() -> UInt64? {
        while let agency = self.order.first {
            guard (self.liveByAgency[agency] ?? 0) > 0, let id = self.takeEarliest(agency) else {
                // Nothing left (its requests were cancelled or expired): off the ring.
                _ = self.order.removeFirst()
                self.credit = 0
                continue
            }
            if self.credit <= 0 { self.credit = max(1, self.weights[agency] ?? self.defaultWeight) }
            self.credit -= 1
            self.live.removeValue(forKey: id)
            self.forget(agency)
            if (self.liveByAgency[agency] ?? 0) == 0 {
                _ = self.order.removeFirst()
                self.credit = 0
            } else if self.credit == 0 {
                self.order.append(self.order.removeFirst())
            }
            return id
        }
        return nil
    }

    /// The agency's live request whose queue head has the earliest deadline (none: last).
    private mutating func takeEarliest(_ agency: String) -> UInt64? {
        guard var queues = self.agencies[agency] else { return nil }
        self.agencies[agency] = nil  // no copy-on-write while it is changed
        defer { self.agencies[agency] = queues }
        var best: Int?
        var bestDeadline: ContinuousClock.Instant?
        for index in queues.indices {
            while let head = queues[index].first, self.live[head.id] == nil { _ = queues[index].removeFirst() }
            guard let head = queues[index].first else { continue }
            if best == nil {
                best = index
                bestDeadline = head.deadline
            } else if let deadline = head.deadline, bestDeadline.map({ deadline < $0 }) ?? true {
                best = index
                bestDeadline = deadline
            }
        }
        guard let best else { return nil }
        return queues[best].removeFirst().id
    }
}

/// A growable FIFO ring buffer.
struct Queue<Element> {
    private var storage: [Element?] = []
    private var head = 0
    private(set) var count = 0

    var isEmpty: Bool { self.count == 0 }
    var first: Element? { self.count == 0 ? nil : self.storage[self.head] }

    mutating func append(_ element: Element) {
        if self.count == self.storage.count { self.grow() }
        self.storage[(self.head + self.count) % self.storage.count] = element
        self.count += 1
    }

    mutating func removeFirst() -> Element {
        precondition(self.count > 0, "removeFirst on an empty Queue")
        let element = self.storage[self.head].take()!
        self.head = (self.head + 1) % self.storage.count
        self.count -= 1
        return element
    }

    private mutating func grow() {
        let capacity = max(8, self.storage.count * 2)
        var storage = [Element?](repeating: nil, count: capacity)
        for index in 0..<self.count { storage[index] = self.storage[(self.head + index) % self.storage.count] }
        self.storage = storage
        self.head = 0
    }
}

extension Queue where Element: Equatable {
    func contains(_ element: Element) -> Bool {
        (0..<self.count).contains { self.storage[(self.head + $0) % self.storage.count] == element }
    }
}

extension Queue: Sendable where Element: Sendable {}
extension AdmissionSchedule: Sendable {}
