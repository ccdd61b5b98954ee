import Foundation
import Testing

/// Both executables allocate through jemalloc (linked, not preloaded: docs/benchmarks.md,
/// "Allocator"). jemalloc prints its statistics at exit when `MALLOC_CONF` asks; glibc's malloc
/// ignores the variable, so the line is there only if jemalloc is the allocator in use.
@Suite("Allocator")
struct AllocatorTests {
    @Test("idverify and idverify-bench run on jemalloc", arguments: ["idverify", "idverify-bench"])
    func jemalloc(executable: String) async throws {
        let result = try await OpsTestEnvironment.runIDVerify(
            ["--help"], environment: ["MALLOC_CONF": "stats_print:true", "LD_PRELOAD": ""], executable: executable)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("Begin jemalloc statistics"), "\(result.stderr.prefix(500))")
    }
}
