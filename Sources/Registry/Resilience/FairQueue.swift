/// Per-agency FIFO queues served by deficit round robin: a plain value, no I/O, no lock.
///
/// Each agency with waiting items takes its turn; on its turn it may take up to its weight in items
/// (every registry call costs one slot, so deficit round robin with unit cost is weighted round
/// robin). One agency's flood therefore waits behind its own queue and never delays another
/// agency's next call by more than one round.
public struct FairQueue<Element> {
    private var queues: [String: RingBuffer<Element>] = [:]
    /// Agencies with a non-empty queue, in service order; the first is being served.
    private var order = RingBuffer<String>()
    /// What the agency being served may still take in this turn.
    private var credit = 0
    private let weights: [String: Int]
    private let defaultWeight: Int

    /// - Parameters:
    ///   - weights: Items an agency may take per turn, for agencies that get more than the default.
    ///   - defaultWeight: Items any other agency may take per turn. Default: `1`.
    public init(weights: [String: Int] = [:], defaultWeight: Int = 1) {
        self.weights = weights
        self.defaultWeight = max(1, defaultWeight)
    }

    /// Items waiting, over all agencies.
    public private(set) var count = 0

    public var isEmpty: Bool { self.count == 0 }

    /// Agencies with at least one item waiting.
    public var activeAgencies: Int { self.order.count }

    /// Items waiting for `agency`.
    public func count(for agency: String) -> Int { self.queues[agency]?.count ?? 0 }

    /// Appends an item to its agency's queue.
    public mutating func enqueue(_ element: Element, for agency: String) {
        if self.queues[agency] == nil {
            self.queues[agency] = RingBuffer()
            self.order.append(agency)
            if self.order.count == 1 { self.credit = 0 }
        }
        self.queues[agency]!.append(element)
        self.count += 1
    }

    /// Takes the next item in fair order, with its agency.
    public mutating func dequeue() -> (agency: String, element: Element)? {
        guard let agency = self.order.first else { return nil }
        if self.credit <= 0 { self.credit = max(1, self.weights[agency] ?? self.defaultWeight) }
        let element = self.queues[agency]!.removeFirst()
        self.count -= 1
        self.credit -= 1
        if self.queues[agency]!.isEmpty {
            self.queues[agency] = nil
            _ = self.order.removeFirst()
            self.credit = 0
        } else if self.credit == 0 {
            self.order.append(self.order.removeFirst())
        }
        return (agency, element)
    }

    /// Removes and returns every waiting item, agency by agency.
    public mutating func removeAll() -> [Element] {
        var all: [Element] = []
        all.reserveCapacity(self.count)
        while let (_, element) = self.dequeue() { all.append(element) }
        return all
    }
}

extension FairQueue: Sendable where Element: Sendable {}

/// A growable FIFO ring buffer (the module has no swift-collections `Deque`).
struct RingBuffer<Element> {
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
        precondition(self.count > 0, "removeFirst on an empty RingBuffer")
        let element = self.storage[self.head].take()!
        self.head = (self.head + 1) % self.storage.count
        self.count -= 1
        return element
    }

    private mutating func grow() {
        let newCapacity = max(8, self.storage.count * 2)
        var newStorage = [Element?](repeating: nil, count: newCapacity)
        for index in 0..<self.count {
            newStorage[index] = self.storage[(self.head + index) % self.storage.count]
        }
        self.storage = newStorage
        self.head = 0
    }
}

extension RingBuffer: Sendable where Element: Sendable {}
