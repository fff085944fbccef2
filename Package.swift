// swift-tools-version:6.1
// The shared lookup table: an LMDB-backed key -> value table built once into one
// memory-mapped file and read by many processes, with a Swift API and the `lookup` CLI.
// Linux only: workers open the table through /proc/self/fd, pipes come from pipe2, and the
// tests use memory cgroups and /proc; no macOS platform is declared.
import PackageDescription

let package = Package(
    name: "SharedLookup",
    products: [
        .library(name: "LMDB", targets: ["LMDB"]),
        .library(name: "SharedLookup", targets: ["SharedLookup"]),
        .library(name: "LookupBatch", targets: ["LookupBatch"]),
        .library(name: "LookupServe", targets: ["LookupServe"]),
        .executable(name: "lookup", targets: ["lookup"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        // The HTTP service (`lookup serve`): Hummingbird over SwiftNIO, without its optional traits.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1", traits: []),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
    ],
    targets: [
        // liblmdb from the system (Debian: liblmdb-dev); no vendored sources.
        .systemLibrary(
            name: "CLMDB", pkgConfig: "lmdb",
            providers: [.apt(["liblmdb-dev"]), .brew(["lmdb"])]),
        // zlib from the system, for reading .gz inputs.
        .systemLibrary(
            name: "CZlib", pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"]), .brew(["zlib"])]),
        // libzstd from the system, for reading .zst inputs and writing .zst outputs.
        .systemLibrary(
            name: "CZstd", pkgConfig: "libzstd",
            providers: [.apt(["libzstd-dev"]), .brew(["zstd"])]),
        // liblzma from the system, for reading .xz inputs.
        .systemLibrary(
            name: "CLzma", pkgConfig: "liblzma",
            providers: [.apt(["liblzma-dev"]), .brew(["xz"])]),
        // libbz2 from the system, for reading .bz2 inputs (Debian's libbz2-dev has no .pc file:
        // the header and library are found in the default paths).
        .systemLibrary(
            name: "CBzip2",
            providers: [.apt(["libbz2-dev"]), .brew(["bzip2"])]),
        // C helpers with no Swift spelling (prefetch hints).
        .target(name: "CSupport"),
        .target(name: "LMDB", dependencies: ["CLMDB"]),
        .target(name: "SharedLookup", dependencies: ["LMDB", "CZlib", "CZstd", "CLzma", "CBzip2", "CSupport"]),
        .target(name: "LookupBatch", dependencies: ["LMDB", "SharedLookup", "CSupport"]),
        // The read-only HTTP service in front of a table, with live table replacement.
        .target(
            name: "LookupServe",
            dependencies: [
                "LMDB",
                "SharedLookup",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                // HTTP/1 request heads (version, keep-alive) and parser errors, below Hummingbird's HTTP types.
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]),
        .executableTarget(
            name: "lookup",
            dependencies: [
                "SharedLookup",
                "LookupBatch",
                "LookupServe",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        // A small app that uses the API; built and run by the end-to-end tests.
        .executableTarget(name: "table-example", dependencies: ["SharedLookup"], path: "Examples/TableExample"),
        // A batch run with custom per-line logic in the workers; run by the end-to-end tests.
        .executableTarget(name: "batch-example", dependencies: ["LookupBatch", "SharedLookup"], path: "Examples/BatchExample"),
        // Point-lookup timing of the Swift API (Benchmarks/run.sh builds it with --product lookup-api-bench).
        .executableTarget(name: "lookup-api-bench", dependencies: ["SharedLookup"], path: "Benchmarks/APIBench"),
        // Test support shared by the test targets: temp directories, the binaries under test and
        // a process runner, seeded random numbers, the random damage of the fault-injection tests.
        .target(name: "LookupTestSupport", dependencies: ["CSupport"], path: "Tests/LookupTestSupport"),
        .testTarget(name: "LMDBTests", dependencies: ["LMDB", "LookupTestSupport"]),
        .testTarget(name: "SharedLookupTests", dependencies: ["SharedLookup", "LMDB", "LookupTestSupport"]),
        .testTarget(name: "LookupCLITests", dependencies: ["SharedLookup", "LookupTestSupport", "lookup", "table-example", "batch-example"]),
        .testTarget(name: "LookupBatchTests", dependencies: ["LookupBatch", "SharedLookup", "CSupport", "LookupTestSupport", "lookup"]),
        .testTarget(name: "LookupServeTests", dependencies: ["LookupServe", "SharedLookup", "LookupTestSupport", "lookup", .product(name: "NIOCore", package: "swift-nio")]),
    ],
    swiftLanguageModes: [.v6]
)
