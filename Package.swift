// swift-tools-version:6.0
// The shared lookup table: an LMDB-backed key -> value table built once into one
// memory-mapped file and read by many processes, with a Swift API and the `lookup` CLI.
import PackageDescription

let package = Package(
    name: "SharedLookup",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "LMDB", targets: ["LMDB"]),
        .library(name: "SharedLookup", targets: ["SharedLookup"]),
        .library(name: "LookupBatch", targets: ["LookupBatch"]),
        .executable(name: "lookup", targets: ["lookup"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
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
        // C helpers with no Swift spelling (prefetch hints).
        .target(name: "CSupport"),
        .target(name: "LMDB", dependencies: ["CLMDB"]),
        .target(name: "SharedLookup", dependencies: ["LMDB", "CZlib", "CSupport"]),
        .target(name: "LookupBatch", dependencies: ["SharedLookup"]),
        .executableTarget(
            name: "lookup",
            dependencies: [
                "SharedLookup",
                "LookupBatch",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        // A small app that uses the API; built and run by the end-to-end tests.
        .executableTarget(name: "table-example", dependencies: ["SharedLookup"], path: "Examples/TableExample"),
        // A batch run with custom per-line logic in the workers; run by the end-to-end tests.
        .executableTarget(name: "batch-example", dependencies: ["LookupBatch", "SharedLookup"], path: "Examples/BatchExample"),
        .testTarget(name: "LMDBTests", dependencies: ["LMDB"]),
        .testTarget(name: "SharedLookupTests", dependencies: ["SharedLookup", "LMDB"]),
        .testTarget(name: "LookupCLITests", dependencies: ["SharedLookup", "lookup", "table-example", "batch-example"]),
        .testTarget(name: "LookupBatchTests", dependencies: ["LookupBatch", "SharedLookup", "lookup"]),
    ],
    swiftLanguageModes: [.v6]
)
