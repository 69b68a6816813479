import { Field, Int32, Int64, List, Table, Utf8, tableToIPC, vectorFromArray } from "apache-arrow";
import type { LogRecord } from "@ferry/contracts";

/**
 * Log records as an Arrow IPC file: `time`, `anomaly.count` and the `metadata.*` fields as typed
 * columns; `in`, `out` and `anomaly` (whose keys differ per pipeline) as JSON text.
 */
export function logsToArrow(datas: readonly Uint8Array[]): Uint8Array {
  const decoder = new TextDecoder();
  const records = datas.map((d) => JSON.parse(decoder.decode(d)) as LogRecord);
  const col = <T>(f: (r: LogRecord) => T): T[] => records.map(f);
  const table = new Table({
    time: vectorFromArray(col((r) => BigInt(r.time)), new Int64()),
    in: vectorFromArray(col((r) => JSON.stringify(r.in)), new Utf8()),
    out: vectorFromArray(col((r) => JSON.stringify(r.out)), new Utf8()),
    anomaly: vectorFromArray(col((r) => JSON.stringify(r.anomaly)), new Utf8()),
    "anomaly.count": vectorFromArray(col((r) => r.anomaly.count), new Int32()),
    "metadata.last_model": vectorFromArray(col((r) => r.metadata.last_model), new Utf8()),
    "metadata.pipeline_version": vectorFromArray(col((r) => r.metadata.pipeline_version), new Utf8()),
    "metadata.elapsed": vectorFromArray(col((r) => r.metadata.elapsed.map((e) => BigInt(e))), new List(new Field("item", new Int64(), true))),
    "metadata.dropped": vectorFromArray(col((r) => r.metadata.dropped), new List(new Field("item", new Utf8(), true))),
    "metadata.partition": vectorFromArray(col((r) => r.metadata.partition), new Utf8()),
  });
  return tableToIPC(table, "file");
}
