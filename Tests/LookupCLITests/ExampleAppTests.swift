// Runs the example apps (Examples/TableExample, Examples/BatchExample) and checks their results.
import Foundation
import LookupTestSupport
import Testing

@Suite("Example app")
struct ExampleAppTests {
    @Test func exampleAppBuildsAndReadsATable() throws {
        let dir = try TempDir("example")
        let example = try runProcess(TestBinaries.product("table-example"), [dir.path])
        #expect(example.status == 0)
        let lines = example.out.split(separator: "\n").map(String.init)
        #expect(lines.contains("paris -> FR"))
        #expect(lines.contains("rome -> missing"))
        #expect(lines.contains("french: paris,lyon"))
        #expect(lines.contains("batch: JP,-,CH"))
        #expect(lines.contains("prefix be: berlin,bern"))
        // The table it published is real: the CLI reads it too.
        let get = try runProcess(TestBinaries.product("lookup"), ["get", dir.file("example.lmdb"), "tokyo"])
        #expect(get.status == 0)
        #expect(get.out == "JP\n")
    }

    @Test func batchExampleRunsItsCustomJobInWorkers() throws {
        let dir = try TempDir("batch-example")
        let inputDir = dir.file("input")
        try FileManager.default.createDirectory(atPath: inputDir, withIntermediateDirectories: true)

        // A table of keys k0..k999 -> "<country>|<n>", and inputs with hits and misses.
        let countries = ["US", "DE", "FR", "JP"]
        var table: [String: String] = [:]
        var csv = ""
        for i in 0..<1000 {
            let value = "\(countries[i % 4])|\(i)"
            table["k\(i)"] = value
            csv += "k\(i),\(value)\n"
        }
        try dir.write("table.csv", csv)
        var expected: [String: String] = [:]
        for f in 0..<3 {
            var input = "", output = ""
            for j in 0..<2000 {
                let key = "k\((j * 7 + f * 13) % 1500)"
                input += "\(key),\(j),x\n"
                output += "\(key),\(table[key].map { String($0.prefix(while: { $0 != "|" })) } ?? "-")\n"
            }
            try dir.write("input/part-\(f).csv", input)
            expected["part-\(f).csv"] = output
        }

        func run(_ executable: String, _ arguments: [String]) throws -> (Int32, String) {
            let result = try runProcess(TestBinaries.product(executable), arguments)
            return (result.status, result.out)
        }
        let tablePath = dir.file("t.lmdb")
        #expect(try run("lookup", ["build", dir.file("table.csv"), "-o", tablePath]).0 == 0)
        let outDir = dir.file("out")
        let (status, summary) = try run("batch-example", [tablePath, inputDir, outDir, "2"])
        #expect(status == 0)
        #expect(summary.contains("3 files, 6000 lines"))
        for (name, text) in expected {
            let written = try String(contentsOfFile: outDir + "/" + name, encoding: .utf8)
            #expect(written == text, "\(name)")
        }
    }
}
