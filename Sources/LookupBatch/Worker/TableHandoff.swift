// TableHandoff: how a worker finds the run's table file: the number of the descriptor it
// inherited from the coordinator, and the device and inode that file must have. A worker
// never opens the table by its path, which may name a newer table by the time it starts.
import Foundation
import SharedLookup

/// The coordinator's table descriptor as a worker sees it.
struct TableHandoff: Codable, Equatable, Sendable {
    /// In a spawned worker's environment: this struct as JSON.
    static let variable = "LOOKUP_BATCH_TABLE"
    /// The descriptor number a spawned worker gets the table at (`posix_spawn_file_actions_adddup2`,
    /// which also clears close-on-exec on it). A forked worker has it at the coordinator's number.
    static let spawnDescriptor: Int32 = 3
    /// Where a spawned worker gets an updated table's base file.
    static let spawnBaseDescriptor: Int32 = 4

    /// The inherited descriptor.
    var descriptor: Int32
    /// Device and inode of the coordinator's table file.
    var device: UInt64
    var inode: UInt64
    /// An updated table's base file, inherited too (`nil`: a table as built).
    var baseDescriptor: Int32?

    /// The handoff a spawned worker found in its environment; `nil` when there is none.
    static func fromEnvironment() throws -> TableHandoff? {
        guard let raw = getenv(variable) else { return nil }
        return try JSONDecoder().decode(TableHandoff.self, from: Data(String(cString: raw).utf8))
    }

    /// The environment value for a spawned worker.
    func environmentValue() throws -> String {
        String(decoding: try JSONEncoder().encode(self), as: UTF8.self)
    }

    /// Opens the table through the inherited descriptor (named `path` in errors) and checks that
    /// it is the coordinator's file.
    func open(path: String) throws -> Table {
        let table = try Table(descriptor: descriptor, path: path, baseDescriptor: baseDescriptor)
        let mapped = try table.mappedFileID()
        guard mapped.device == device && mapped.inode == inode else {
            throw LookupError(.io, path: path, "this worker's table file (device \(mapped.device), inode \(mapped.inode)) is not the run's (device \(device), inode \(inode)); the task cannot run")
        }
        return table
    }
}

