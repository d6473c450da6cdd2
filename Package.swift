// swift-tools-version:6.2
import PackageDescription

import class Foundation.ProcessInfo

/// Settings shared by every target: Swift 6 language mode with strict concurrency.
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "jumpjumpjump-relay",
    platforms: [.macOS(.v26)],  // `InlineArray`
    products: [
        .executable(name: "relay", targets: ["RelayMain"]),
        .executable(name: "custom-relay-example", targets: ["CustomRelayExample"]),
        .library(name: "RelayServer", targets: ["RelayServer"]),
        .executable(name: "relay-bench", targets: ["RelayBench"]),
        .library(name: "Persistence", targets: ["Persistence"]),
        .library(name: "Relay", targets: ["Relay"]),
        .library(name: "Handlers", targets: ["Handlers"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/swift-websocket", from: "1.6.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
        .package(url: "https://github.com/swiftlang/swift-subprocess", from: "1.0.2", traits: []),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
    ],
    targets: [
        .systemLibrary(
            name: "CSystemSQLite",
            path: "Sources/CSystemSQLite",
            pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]
        ),
        .systemLibrary(name: "CMalloc", path: "Sources/CMalloc"),
        .target(
            name: "Persistence",
            dependencies: [
                "CSystemSQLite",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Relay",
            dependencies: [
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "OrderedCollections", package: "swift-collections"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Handlers",
            dependencies: [
                "Relay", "Persistence",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            swiftSettings: swiftSettings
        ),
        // The WebSocket frames both ends of a room socket read and write: the server reads
        // clients' frames with it, relay-bench writes them (and reads the server's).
        .target(
            name: "WebSocketWire",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "RelayServer",
            dependencies: [
                "WebSocketWire", "CMalloc",
                "Relay", "Handlers", "Persistence",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "_NIOFileSystem", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "RelayMain",
            dependencies: ["RelayServer"],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "CustomRelayExample",
            dependencies: ["RelayServer", "Handlers", "Relay"],
            path: "examples/custom-relay",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "RelayBenchKit",
            dependencies: [
                "WebSocketWire",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "RelayBench",
            dependencies: ["RelayBenchKit"],
            swiftSettings: swiftSettings
        ),
        // Test helpers shared by several test targets.
        .target(name: "SeededRandom", path: "Tests/SeededRandom", swiftSettings: swiftSettings),
        // Caps how many tests run at once, as the test binary loads (see width.c); linked, not imported.
        .target(name: "TestWidth", path: "Tests/TestWidth"),
        .target(name: "ChildProcess", path: "Tests/ChildProcess", swiftSettings: swiftSettings),
        .target(
            name: "RecordedLogs", dependencies: [.product(name: "Logging", package: "swift-log")],
            path: "Tests/RecordedLogs", swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "RelayTests",
            dependencies: ["Relay", "SeededRandom", "TestWidth"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "HandlersTests",
            dependencies: [
                "Handlers", "Relay", "SeededRandom", "RecordedLogs", .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PersistenceTests",
            dependencies: [
                "Persistence", "CSystemSQLite", "SeededRandom", "RecordedLogs", "ChildProcess",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "RelayBenchTests",
            dependencies: [
                "RelayBenchKit", "ChildProcess",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "WebSocketWireTests",
            dependencies: [
                "WebSocketWire", "SeededRandom",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // The fuzz checks (Tests/FuzzTests/Checks) run here over the committed seeds (Fuzz/Seeds);
        // the libFuzzer drivers below compile the same files.
        .testTarget(
            name: "FuzzTests",
            dependencies: [
                "Relay", "Handlers", "WebSocketWire", "RelayServer",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "RelayServerTests",
            dependencies: [
                "RelayServer", "Relay", "Handlers", "WebSocketWire", "ChildProcess", "RecordedLogs",
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "WSClient", package: "swift-websocket"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)

// Benchmarks (ordo-one/benchmark), only with ENABLE_BENCHMARKS=1 so normal builds, tests and CI
// neither fetch nor build them:
//   ENABLE_BENCHMARKS=1 swift package --scratch-path .build-bench benchmark --target PersistenceBenchmarks
//   ENABLE_BENCHMARKS=1 swift package --scratch-path .build-bench benchmark --target RelayBenchmarks
if ProcessInfo.processInfo.environment["ENABLE_BENCHMARKS"] != nil {
    package.dependencies.append(
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"])
    )
    package.targets.append(
        .executableTarget(
            name: "PersistenceBenchmarks",
            dependencies: [
                "Persistence", "CSystemSQLite",
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Benchmarks/PersistenceBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        )
    )
    package.targets.append(
        .executableTarget(
            name: "RelayBenchmarks",
            dependencies: [
                "Relay", "Handlers",
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "Benchmarks/RelayBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        )
    )
    // The loopback floor through NIO (see Benchmarks/floor/run-floor.sh).
    package.products.append(.executable(name: "nio-floor", targets: ["NIOFloor"]))
    package.targets.append(
        .executableTarget(
            name: "NIOFloor",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "Benchmarks/floor/NIOFloor"
        )
    )
    // Plugin round trip and throughput: `swift run -c release --scratch-path .build-bench plugin-bench`.
    package.products.append(.executable(name: "plugin-bench", targets: ["PluginBench"]))
    package.targets.append(
        .executableTarget(
            name: "PluginBench",
            dependencies: [
                "Handlers", "Relay",
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "Benchmarks/PluginBench",
            swiftSettings: swiftSettings
        )
    )
}

// libFuzzer drivers, only with FUZZ=1, so normal builds and tests never see them (.ci/run compiles them,
// unlinked). `Fuzz/run.sh NAME` builds one with -sanitize=fuzzer,address and -enable-testing into .build-fuzz
// and runs it. Each is a `Main.swift` handing libFuzzer's inputs to a check in Tests/FuzzTests/Checks, whose
// file it compiles through a symlink.
if ProcessInfo.processInfo.environment["FUZZ"] != nil {
    let drivers: [(name: String, dependencies: [Target.Dependency])] = [
        ("FuzzJSON", ["Relay", .product(name: "NIOCore", package: "swift-nio")]),
        ("FuzzRelays", ["Relay", "Handlers", .product(name: "NIOCore", package: "swift-nio")]),
        ("FuzzPlugin", ["Handlers", "Relay"]),
        (
            "FuzzFrames",
            [
                "WebSocketWire", .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
            ]
        ),
        ("FuzzHTTP", ["Relay", "RelayServer", .product(name: "NIOCore", package: "swift-nio")]),
        ("FuzzForwarded", ["RelayServer", .product(name: "NIOCore", package: "swift-nio")]),
        (
            "FuzzRoom",
            [
                "Relay", "Handlers", .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
    ]
    for driver in drivers {
        package.targets.append(
            .executableTarget(
                name: driver.name,
                dependencies: driver.dependencies,
                path: "Fuzz/Drivers/\(driver.name)",
                // No top-level code: libFuzzer's LLVMFuzzerRunDriver is called from `<name>_main`.
                swiftSettings: swiftSettings + [.unsafeFlags(["-parse-as-library"])]
            )
        )
    }
}
