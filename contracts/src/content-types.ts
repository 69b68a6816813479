/** Media types Ferry reads and writes. */
export const MediaTypes = {
  arrowFile: "application/vnd.apache.arrow.file",
  arrowStream: "application/vnd.apache.arrow.stream",
  json: "application/json",
  pandasRecords: "application/json; format=pandas-records",
  /** A V2 (Open Inference Protocol) REST inference body, as the gateway forwards it to the inferers. */
  v2Infer: "application/vnd.ferry.v2-infer",
} as const;

/** How a request body is encoded. */
export type InputFormat = "arrow" | "pandas-records" | "v2";
/** How a reply body is encoded. */
export type OutputFormat = "arrow-file" | "pandas-records";

/** The bare media type of a header value, lower case, without parameters. */
export function mediaTypeOf(value: string | undefined): string {
  if (!value) return "";
  // The spec's own /logs example sends "Content-Type: Content-Type: application/json; ...".
  const v = value.replace(/^\s*content-type\s*:\s*/i, "");
  const semi = v.indexOf(";");
  return (semi < 0 ? v : v.slice(0, semi)).trim().toLowerCase();
}

/** The input format for a `Content-Type`, or undefined when Ferry cannot read it. */
export function inputFormatOf(contentType: string | undefined): InputFormat | undefined {
  switch (mediaTypeOf(contentType)) {
    case MediaTypes.arrowFile:
    case MediaTypes.arrowStream:
      return "arrow";
    case MediaTypes.json:
      return "pandas-records";
    case MediaTypes.v2Infer:
      return "v2";
    default:
      return undefined;
  }
}

/**
 * The output format for an `Accept` header (first supported entry wins; absent or a wildcard
 * means pandas-records), or undefined when none of the listed types can be produced.
 */
export function outputFormatOf(accept: string | undefined): OutputFormat | undefined {
  if (!accept || !accept.trim()) return "pandas-records";
  for (const entry of accept.split(",")) {
    const type = mediaTypeOf(entry);
    if (type === MediaTypes.arrowFile || type === MediaTypes.arrowStream) return "arrow-file";
    if (type === MediaTypes.json || type === "*/*" || type === "application/*") return "pandas-records";
  }
  return undefined;
}

/** The `Content-Type` written for an output format. */
export function contentTypeOf(format: OutputFormat): string {
  return format === "arrow-file" ? MediaTypes.arrowFile : MediaTypes.pandasRecords;
}
