import Logging
import TidepoolFront

/// Writes the host's batched log lines (the access log, `LogOutput`) before
/// each line of `base`, so stderr keeps the order in which lines were logged.
struct FlushingLogHandler: LogHandler {
    var base: any LogHandler

    var logLevel: Logger.Level {
        get { base.logLevel }
        set { base.logLevel = newValue }
    }

    var metadata: Logger.Metadata {
        get { base.metadata }
        set { base.metadata = newValue }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { base[metadataKey: key] }
        set { base[metadataKey: key] = newValue }
    }

    func log(event: LogEvent) {
        LogOutput.flush()
        base.log(event: event)
    }
}
