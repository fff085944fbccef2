// Platform: the C library, imported once for the whole LookupTestSupport target (every file of it
// sees it): Glibc on Linux, the platform the package builds for; Darwin elsewhere.
#if canImport(Glibc)
@_exported import Glibc
#elseif canImport(Darwin)
@_exported import Darwin
#endif
