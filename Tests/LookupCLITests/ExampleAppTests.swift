// Runs the API example app (Examples/TableExample) and checks what it prints against the table.
import Foundation
import Testing

@Suite("Example app")
struct ExampleAppTests {
    @Test func exampleAppBuildsAndReadsATable() throws {
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let binDir = ProcessInfo.processInfo.environment["LOOKUP_BIN"].map { URL(fileURLWithPath: $0).deletingLastPathComponent() }
            ?? repo.appendingPathComponent(".build/debug")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("example-" + UUID().uuidString)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }

        let process = Process()
        process.executableURL = binDir.appendingPathComponent("table-example")
        process.arguments = [dir.path]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        let lines = String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init)
        #expect(lines.contains("paris -> FR"))
        #expect(lines.contains("rome -> missing"))
        #expect(lines.contains("french: paris,lyon"))
        #expect(lines.contains("batch: JP,-,CH"))
        #expect(lines.contains("prefix be: berlin,bern"))
        // The table it published is real: the CLI reads it too.
        let get = Process()
        get.executableURL = binDir.appendingPathComponent("lookup")
        get.arguments = ["get", dir.appendingPathComponent("example.lmdb").path, "tokyo"]
        let getOut = Pipe()
        get.standardOutput = getOut
        try get.run()
        let value = getOut.fileHandleForReading.readDataToEndOfFile()
        get.waitUntilExit()
        #expect(get.terminationStatus == 0)
        #expect(String(decoding: value, as: UTF8.self) == "JP\n")
    }
}
