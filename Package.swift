// swift-tools-version:6.0
import Foundation
import PackageDescription

/// How the instance links CPython. Release builds link CPython's own static, non-PIC build into
/// the `tidepool` executable, the way Debian links /usr/bin/python3.11: the shared,
/// position-independent libpython3.11.so runs the same Flask request in 12 % more instructions
/// (callgrind: 414k against 370k per call, README "Performance"). `scripts/lib.sh` turns
/// Debian's libpython3.11.a into one relocatable object first, because the static Swift runtime
/// links with `--exclude-libs ALL`, which would hide an archive's symbols from the extension
/// modules (`_json`, ...) that must bind to this copy. Without that object (a plain
/// `swift build`), and in debug builds, the shared library is linked.
let staticPythonObject = Context.packageDirectory + "/.build/libpython3.11-static.o"
let pythonLinkage: [LinkerSetting] =
    FileManager.default.fileExists(atPath: staticPythonObject)
    ? [
        .linkedLibrary("python3.11", .when(configuration: .debug)),
        .unsafeFlags(
            ["-Xclang-linker", "-no-pie", "-Xlinker", staticPythonObject, "-lz", "-lexpat", "-lm"],
            .when(platforms: [.linux], configuration: .release)
        ),
    ]
    : [.linkedLibrary("python3.11")]

/// Release builds of the host's and the instance's modules skip Swift's run-time
/// exclusivity checks (the compile-time ones stay, and debug builds, which `swift test`
/// runs, keep both). The host's event loop touches its class-held state (`requests`,
/// `instances`, scratch buffers) ~45 times per request, and each checked access is a
/// `swift_beginAccess`/`swift_endAccess` pair into a thread-local access set: 2,800 of
/// the host's 48,600 instructions per proxied request; in an instance, building the
/// environ took 12 of them per header (callgrind, README "Performance").
let uncheckedExclusivity: [SwiftSetting] = [
    .unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))
]

let package = Package(
    name: "Tidepool",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "tidepool", targets: ["tidepool"]),
        .executable(name: "tidepool-load", targets: ["tidepool-load"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.0"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.0.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.1.0"),
    ],
    targets: [
        // C boundaries: every macro, static and variadic call is wrapped here, nowhere else.
        .systemLibrary(
            name: "CEvent",
            pkgConfig: "libevent_pthreads",
            providers: [.apt(["libevent-dev"])]
        ),
        .systemLibrary(
            name: "CPython",
            pkgConfig: "python3",  // headers only: `pythonLinkage` links it
            providers: [.apt(["libpython3-dev"])]
        ),
        .target(name: "CTidepoolLinux"),

        // Pure logic: no IO, no C.
        .target(name: "TidepoolCore", swiftSettings: uncheckedExclusivity),

        // Vercel project conventions: entrypoint, pyproject, vercel.json, install, build, bundle check.
        .target(
            name: "TidepoolProject",
            dependencies: [
                "TidepoolCore", "CTidepoolLinux",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "TOMLKit", package: "TOMLKit"),
            ]
        ),

        // The host: libevent front proxy, static files, instance channels, process supervision.
        .target(
            name: "TidepoolFront",
            dependencies: [
                "TidepoolCore", "TidepoolProject", "CEvent", "CTidepoolLinux",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: uncheckedExclusivity
        ),
        // The instance: embedded CPython, WSGI bridge, handler threads, template fork.
        .target(
            name: "TidepoolInstance",
            dependencies: [
                "TidepoolCore", "CPython", "CTidepoolLinux",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: uncheckedExclusivity,
            linkerSettings: pythonLinkage
        ),
        // The CLI: wiring only.
        .executableTarget(
            name: "tidepool",
            dependencies: [
                "TidepoolCore", "TidepoolFront", "TidepoolInstance", "TidepoolProject",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "TOMLKit", package: "TOMLKit"),
            ]
        ),

        // Load generator (LoadTests/): pure scenario/schedule/report logic, and the libevent shell.
        .target(
            name: "LoadCore",
            dependencies: [
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "TOMLKit", package: "TOMLKit"),
            ],
            path: "LoadTests/Sources/LoadCore"
        ),
        .executableTarget(
            name: "tidepool-load",
            dependencies: [
                "LoadCore", "CEvent",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ],
            path: "LoadTests/Sources/tidepool-load"
        ),

        .testTarget(name: "TidepoolCoreTests", dependencies: ["TidepoolCore"]),
        .testTarget(
            name: "LoadTestsTests",
            dependencies: ["LoadCore", .product(name: "Histogram", package: "hdrhistogram-swift")]
        ),
        .testTarget(name: "TidepoolProjectTests", dependencies: ["TidepoolProject"]),
        .testTarget(
            name: "TidepoolFrontTests",
            dependencies: ["TidepoolFront", .product(name: "Prometheus", package: "swift-prometheus")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
