// `lookup serve` on tables with composite, folded and trimmed keys and every value of a
// repeated key: GET /v1/keys/{key} (parts joined by %09; a JSON array for a one-to-many table),
// POST /v1/lookup (JSON, text and NDJSON bodies; "values" lists), --columns, and a --columns the
// table does not have refused at start. Checked against a dictionary of the same rows.
import Foundation
import LookupTestSupport
import Testing

@Suite("serve: composite, normalized and one-to-many tables")
struct ServeKeyFormTests {
    /// A CSV `id,region,name,score` keyed by (id, region), folded and trimmed, every value kept;
    /// the reference maps "id\tregion" (lowercase) to its values "name,score" in input order.
    func fixture(_ dir: TempDir, seed: UInt64) throws -> (table: String, values: [String: [String]]) {
        var rng = SeededRNG(seed: seed)
        var text = "id,region,name,score\n"
        var values: [String: [String]] = [:]
        for i in 0..<1500 {
            let id = "\(rng.below(300))", region = ["eu", "us", "apac"][rng.below(3)]
            let shownRegion = rng.percent(50) ? region.uppercased() : " " + region
            let value = "n\(i),\(rng.below(100))"
            values[id + "\t" + region, default: []].append(value)
            text += "\(id),\(shownRegion),\(value)\n"
        }
        let input = dir.file("t.csv")
        try writeFile(input, text)
        let table = dir.file("t.lmdb")
        try buildWithCLI([input, "-k", "1,2", "--header", "--ignore-case", "--trim", "--duplicates", "all", "-o", table])
        return (table, values)
    }

    @Test("GET: tab-joined parts in any case answer a JSON array of every value; a miss is 404")
    func getKeys() throws {
        let dir = try TempDir("skg")
        let (table, values) = try fixture(dir, seed: 1301)
        let server = try ServeProcess(table: table, in: dir)
        let connection = try server.connect()
        var rng = SeededRNG(seed: 1302)
        for key in values.keys.sorted().shuffled(using: &rng).prefix(150) {
            let parts = key.split(separator: "\t")
            let typed = parts[0] + "\t" + (rng.percent(50) ? parts[1].uppercased() : parts[1] + " ")
            let reply = try connection.get("/v1/keys/" + percentEncoded(String(typed)))
            #expect(reply.status == 200, "GET \(typed): \(reply.summary)")
            #expect(reply.headers["content-type"]?.hasPrefix("application/json") == true, "content type: \(reply.headers)")
            let list = (try? JSONSerialization.jsonObject(with: Data(reply.body))) as? [String]
            #expect(list == values[key], "GET \(typed): \(reply.text)")
        }
        let miss = try connection.get("/v1/keys/" + percentEncoded("1\tmars"))
        #expect(miss.status == 404, "\(miss.summary)")
        let onePart = try connection.get("/v1/keys/1")
        #expect(onePart.status == 404, "\(onePart.summary)")
        server.stop()
    }

    @Test("POST /v1/lookup: JSON, text and NDJSON bodies give \"values\" lists in the order asked")
    func batch() throws {
        let dir = try TempDir("skb")
        let (table, values) = try fixture(dir, seed: 1303)
        let server = try ServeProcess(table: table, in: dir)
        let connection = try server.connect()
        var rng = SeededRNG(seed: 1304)
        var asked = values.keys.sorted().shuffled(using: &rng).prefix(400).map { key -> String in
            let parts = key.split(separator: "\t")
            return "\u{00A0}" + parts[0] + "\t" + parts[1].uppercased()
        }
        asked.insert("999\teu", at: 7)
        let reference = asked.map { key -> [String]? in
            let parts = key.trimmingCharacters(in: .whitespaces).split(separator: "\t")
            return values[parts[0] + "\t" + parts[1].lowercased()]
        }
        func check(_ results: [[String: Any]], _ what: String) {
            #expect(results.count == asked.count, "\(what): \(results.count) results")
            for (i, (r, want)) in zip(results, reference).enumerated() {
                let ok = (r["key"] as? String) == asked[i] && (r["found"] as? Bool) == (want != nil)
                    && (r["values"] as? [String]) == want && r["value"] == nil
                if !ok { Issue.record("\(what): result \(i + 1) \(r), expected \(String(describing: want))"); return }
            }
        }
        let json = try connection.lookup(jsonArray(asked), contentType: "application/json")
        #expect(json.status == 200, "\(json.summary)")
        #expect(json.json["found"] as? Int == reference.filter { $0 != nil }.count)
        check(json.json["results"] as? [[String: Any]] ?? [], "JSON body")

        let text = try connection.lookup(asked.joined(separator: "\n") + "\n", contentType: "text/plain")
        check(text.json["results"] as? [[String: Any]] ?? [], "text body")

        let nd = try connection.lookup(jsonArray(asked), contentType: "application/json", query: "?format=ndjson")
        let lines = nd.text.split(separator: "\n").compactMap { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any] }
        check(lines, "NDJSON answer")
        server.stop()
    }

    @Test("--columns: GET and POST answer the chosen columns (a key column gives the key part)")
    func columns() throws {
        let dir = try TempDir("skc")
        let input = dir.file("p.csv")
        try writeFile(input, "id,name,city,zip\n7,ann,\"Paris, FR\",75001\n8,bob,Oslo,0150\n")
        let table = dir.file("p.lmdb")
        try buildWithCLI([input, "--header", "-o", table])
        let server = try ServeProcess(table: table, ["--columns", "zip,id,city"], in: dir)
        let connection = try server.connect()
        let one = try connection.get("/v1/keys/7")
        #expect(one.status == 200 && one.text == "75001,7,\"Paris, FR\"", "\(one.summary)")
        let batch = try connection.lookup(jsonArray(["8", "9"]), contentType: "application/json")
        #expect(batchResults(batch).map { $0.value } == ["0150,8,Oslo", nil], "\(batch.summary)")
        server.stop()
    }

    @Test("serve --columns naming a column the table lacks: one line naming it, exit 2, never listening",
          arguments: ["town", "9"])
    func badColumns(list: String) throws {
        let dir = try TempDir("skx")
        let input = dir.file("p.csv")
        try writeFile(input, "id,name\n7,ann\n")
        let table = dir.file("p.lmdb")
        try buildWithCLI([input, "--header", "-o", table])
        let errPath = dir.file("err")
        let process = try launchLookup(["serve", table, "--port", "0", "--columns", list], stderr: errPath)
        let ended = waitFor(30) { !process.isRunning }
        if !ended { process.send(SIGKILL) }
        let end = try process.wait()
        #expect(end.status == 2 && !end.signaled, "exit \(end.status)")
        let err = (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
        #expect(ended, "serve --columns \(list) kept running")
        #expect(!err.contains("listening"), "it listened: \(err)")
        let lines = err.split(separator: "\n")
        #expect(lines.count == 1 && lines[0].contains(list), "stderr: \(err)")
    }
}
