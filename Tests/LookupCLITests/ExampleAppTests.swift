// Runs the example apps (Examples/TableExample, Examples/BatchExample) and checks their results.
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

    @Test func batchExampleRunsItsCustomJobInWorkers() throws {
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let binDir = ProcessInfo.processInfo.environment["LOOKUP_BIN"].map { URL(fileURLWithPath: $0).deletingLastPathComponent() }
            ?? repo.appendingPathComponent(".build/debug")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("batch-example-" + UUID().uuidString)
        let inputDir = dir.appendingPathComponent("input")
        try FileManager.default.createDirectory(at: inputDir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }

        // A table of keys k0..k999 -> "<country>|<n>", and inputs with hits and misses.
        let countries = ["US", "DE", "FR", "JP"]
        var table: [String: String] = [:]
        var csv = ""
        for i in 0..<1000 {
            let value = "\(countries[i % 4])|\(i)"
            table["k\(i)"] = value
            csv += "k\(i),\(value)\n"
        }
        try Data(csv.utf8).write(to: dir.appendingPathComponent("table.csv"))
        var expected: [String: String] = [:]
        for f in 0..<3 {
            var input = "", output = ""
            for j in 0..<2000 {
                let key = "k\((j * 7 + f * 13) % 1500)"
                input += "\(key),\(j),x\n"
                output += "\(key),\(table[key].map { String($0.prefix(while: { $0 != "|" })) } ?? "-")\n"
            }
            try Data(input.utf8).write(to: inputDir.appendingPathComponent("part-\(f).csv"))
            expected["part-\(f).csv"] = output
        }

        func run(_ executable: String, _ arguments: [String]) throws -> (Int32, String) {
            let process = Process()
            process.executableURL = binDir.appendingPathComponent(executable)
            process.arguments = arguments
            let out = Pipe()
            process.standardOutput = out
            try process.run()
            let data = out.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return (process.terminationStatus, String(decoding: data, as: UTF8.self))
        }
        let tablePath = dir.appendingPathComponent("t.lmdb").path
        #expect(try run("lookup", ["build", dir.appendingPathComponent("table.csv").path, "-o", tablePath]).0 == 0)
        let outDir = dir.appendingPathComponent("out")
        let (status, summary) = try run("batch-example", [tablePath, inputDir.path, outDir.path, "2"])
        #expect(status == 0)
        #expect(summary.contains("3 files, 6000 lines"))
        for (name, text) in expected {
            let written = try String(contentsOf: outDir.appendingPathComponent(name), encoding: .utf8)
            #expect(written == text, "\(name)")
        }
    }
}
