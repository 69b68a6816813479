import { FerryError, checkRequestBody, decodePandasRecords, decodeV2Request, firstBadRow, hasRowWidth, inputFormatOf, outputFormatOf, Headers, type EnvelopePart, type InputColumn, type InputFormat, type InputTable, type OutputFormat, type V2ReplySpec } from "@ferry/contracts";
import type { ArrowDecoder } from "./arrow-decoder.js";

import type { InputSpec, PipelineRuntime } from "./pipeline-runtime.js";

/** A request part decoded and checked against the pipeline's inputs, ready to be merged into a run. */
export interface BoundRequest {
  readonly table: InputTable;
  /** One column per pipeline input, in the order of `runtime.inputs`. */
  readonly columns: readonly InputColumn[];
  /** Values per row of each column. */
  readonly widths: readonly number[];
  readonly output: OutputFormat;
  /** Set for a V2 (Open Inference Protocol) request, which is answered in V2 form whatever its Accept. */
  readonly v2?: V2ReplySpec;
  /** ns spent decoding and binding. */
  readonly decodeNs: number;
  /** The arm each split step takes for this request (empty without splits). */
  readonly arms: readonly number[];
}

/** Decodes a request part and binds its columns to the pipeline inputs; rejects with a FerryError (4xx). */
export async function bindRequest(runtime: PipelineRuntime, part: EnvelopePart, arrow: ArrowDecoder): Promise<BoundRequest> {
  const t0 = process.hrtime.bigint();
  const contentType = part.headers[Headers.contentType];
  const input = inputFormatOf(contentType);
  if (!input) {
    throw new FerryError("unsupported_media_type", `Content-Type ${JSON.stringify(contentType ?? "")} is not supported; send application/vnd.apache.arrow.file, application/vnd.apache.arrow.stream or application/json; format=pandas-records`);
  }
  const decoded = await decode(runtime, part, input, arrow);
  const { table, output } = decoded;
  const columns: InputColumn[] = [];
  const widths: number[] = [];
  for (const spec of runtime.inputs) {
    const column = table.column(columnName(runtime, spec, table));
    if (column.booleans && spec.type !== "bool") throw new FerryError("bad_input_type", `column "${column.name}" holds true/false, not numbers; ${describe(runtime, spec)}`);
    widths.push(checkWidth(runtime, spec, column));
    columns.push(column);
  }
  const arms = runtime.splits ? runtime.route(part.headers[Headers.splitKey], (name) => (table.columnNames.includes(name) ? table.row(0)[name] : undefined)) : [];
  return { table, columns, widths, output, arms, decodeNs: Number(process.hrtime.bigint() - t0), ...(decoded.v2 ? { v2: decoded.v2 } : {}) };
}

/** The part's rows and how to answer it: a V2 body is checked against the pipeline's signature as it is read. */
async function decode(runtime: PipelineRuntime, part: EnvelopePart, input: InputFormat, arrow: ArrowDecoder): Promise<{ table: InputTable; output: OutputFormat; v2?: V2ReplySpec }> {
  if (input === "v2") {
    const v2 = decodeV2Request(part.body, part.headers[Headers.contentType], runtime.name, runtime.signature);
    return { table: v2.table, output: "pandas-records", v2: v2.reply };
  }
  const output = outputFormatOf(part.headers[Headers.accept]);
  if (!output) {
    throw new FerryError("not_acceptable", `Accept ${JSON.stringify(part.headers[Headers.accept])} is not supported; accept application/json; format=pandas-records or application/vnd.apache.arrow.file`);
  }
  checkRequestBody(input, part.body);
  return { table: input === "arrow" ? await arrow.decode(part.body) : decodePandasRecords(part.body), output };
}

function columnName(runtime: PipelineRuntime, spec: InputSpec, table: InputTable): string {
  if (table.columnNames.includes(spec.column)) return spec.column;
  if (runtime.inputs.length === 1 && table.columnNames.length === 1) return table.columnNames[0]!;
  throw new FerryError("missing_input", `input column "${spec.column}" is missing: the request has columns [${table.columnNames.join(", ")}]; ${describe(runtime, spec)}`);
}

function checkWidth(runtime: PipelineRuntime, spec: InputSpec, column: InputColumn): number {
  const width = spec.width ?? column.offsets[1]! - column.offsets[0]!;
  if (hasRowWidth(column, width) && width > 0) return width;
  const row = firstBadRow(column, width);
  const got = row < 0 ? 0 : column.offsets[row + 1]! - column.offsets[row]!;
  throw new FerryError("bad_shape", `column "${column.name}" row ${Math.max(row, 0)} has ${got} values, expected ${width} per row; ${describe(runtime, spec)}`);
}

function describe(runtime: PipelineRuntime, spec: InputSpec): string {
  return `pipeline ${runtime.name} takes input "${spec.name}" as ${spec.type} [${spec.dims.join(",")}]`;
}
