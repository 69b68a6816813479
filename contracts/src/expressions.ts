/**
 * Validation expressions: small, safe boolean tests over one row of a model's outputs
 * (Wallaroo's pipeline "validations", e.g. `variable < 1000000` or `max(probabilities) > 0.2`).
 *
 * An expression is parsed and type-checked once ({@link compileExpression}, at publish time) and then
 * evaluated per output row ({@link CompiledExpression.evaluate}). It is a hand-written recursive-descent
 * parser compiling to closures: no `eval`, no `Function`, no access to anything but the row's values.
 *
 * Grammar (loosest first; `and`/`&&`, `or`/`||`, `not`/`!` are synonyms):
 * ```text
 * expr       := or
 * or         := and  (("or" | "||") and)*
 * and        := not  (("and" | "&&") not)*
 * not        := ("not" | "!") not | comparison
 * comparison := sum [("<" | "<=" | ">" | ">=" | "==" | "!=") sum]      -- not chainable
 * sum        := product (("+" | "-") product)*
 * product    := unary (("*" | "/" | "%") unary)*
 * unary      := "-" unary | postfix
 * postfix    := primary ("[" expr "]")*                                 -- 0-based index
 * primary    := number | "true" | "false" | name | function "(" expr ")" | "(" expr ")"
 * number     := 12 | 1.5 | .5 | 1e6 | 2.5E-3
 * name       := [A-Za-z_][A-Za-z0-9_]*  |  `any characters but a backtick`
 * function   := max | min | sum | mean | len | argmax | abs | any | all
 * ```
 * `not` binds looser than comparisons (as in Python), so `not x > 2` means `not (x > 2)`; since `not`
 * only accepts true/false this never changes the meaning of an expression that would also type-check
 * with `not` binding tightly.
 *
 * Values: a name is a number if its output has exactly one element (so `variable < 1000000` works on a
 * `[1, 1]` output), true/false if the output is a boolean, and otherwise an array of numbers.
 * Arithmetic, `abs` and comparisons on arrays apply element-wise (an array with a single number
 * broadcasts; two arrays must have the same length), giving an array of true/false; `not`, `and`,
 * `or` combine such arrays element-wise too (a plain true/false on one side decides as usual).
 * Where an element-wise result is used as the expression's result it is true only if true for ALL
 * elements (vacuously true for an empty output); `any(...)` and `all(...)` make that intent explicit.
 * `max`, `min`, `sum`, `mean`, `len` and `argmax` take the whole array (`max`, `min`, `mean` and
 * `argmax` of an empty output are errors; `argmax` gives the first maximum, or the first NaN).
 * Arithmetic is IEEE double (`1 / 0` is `Infinity`); bigint values are converted with `Number()`.
 * Every comparison involving NaN is false, `!=` included, so `not (x == x)` tests for NaN.
 *
 * Limits: at most 1000 characters, and nesting (parentheses, brackets, function calls, `-`, `not`)
 * at most 32 deep; parsing is linear in the source, so hostile input can neither hang nor overflow.
 *
 * Errors, at parse time and at evaluation, are {@link ExpressionError}s naming the (1-based) column.
 * @module
 */

/** The longest expression source accepted, in characters. */
const MAX_EXPRESSION_LENGTH = 1000;
/** The deepest nesting of parentheses, brackets, function calls and prefix operators accepted. */
const MAX_EXPRESSION_DEPTH = 32;

/** A parsed expression, ready to evaluate many times. */
export interface CompiledExpression {
  /** The expression as written. */
  readonly source: string;
  /** The output names the expression reads, each once, in order of first use. */
  readonly names: readonly string[];
  /**
   * Evaluates the expression against one row. An element-wise result is true only if true for all
   * elements. Throws {@link ExpressionError} when the row does not fit (a missing output, an index
   * out of range, arrays of different lengths, a value of the wrong type).
   */
  evaluate(scope: ExpressionScope): boolean;
}

/** Output name → that row's values (a scalar output is a 1-element array). Values may be number[] or typed arrays or bigint arrays. */
export type ExpressionScope = Readonly<Record<string, ArrayLike<number | bigint> | number | bigint | boolean>>;

/** Thrown for a malformed expression; message says what and where (column), e.g. `expected ")" at column 10 in "max(x > 2"`. */
export class ExpressionError extends Error {
  override readonly name = "ExpressionError";
  /** 1-based column of the problem in the source (`source.length + 1` means "at the end"). */
  readonly column: number;
  /** The problem alone, without the column and the quoted source. */
  readonly reason: string;

  constructor(reason: string, column: number, source: string, options?: ErrorOptions) {
    super(`${reason} at column ${column} in ${excerpt(source, column)}`, options);
    this.reason = reason;
    this.column = column;
  }
}

/** The source, quoted; a long one is cut to a window around `column`. */
function excerpt(source: string, column: number): string {
  const width = 120;
  if (source.length <= width) return JSON.stringify(source);
  const start = Math.max(0, Math.min(column - 1, source.length) - width / 2);
  const end = Math.min(source.length, start + width);
  return JSON.stringify(`${start > 0 ? "…" : ""}${source.slice(start, end)}${end < source.length ? "…" : ""}`);
}

/**
 * Parses `source`; throws ExpressionError. `known`, when given, is the list of output names the
 * expression may use: unknown names are an error at parse time.
 */
export function compileExpression(source: string, known?: readonly string[]): CompiledExpression {
  if (typeof source !== "string") throw new ExpressionError("an expression must be a string", 1, String(source));
  if (source.length > MAX_EXPRESSION_LENGTH) {
    throw new ExpressionError(`expression is too long (${source.length} characters; the limit is ${MAX_EXPRESSION_LENGTH})`, MAX_EXPRESSION_LENGTH + 1, source);
  }
  const parser = new Parser(source, tokenize(source), known === undefined ? undefined : new Set(known));
  const root = parser.parseExpression();
  const names = Object.freeze([...parser.names]);
  const run = root.run;
  const fail = (reason: string, column: number, cause?: unknown): ExpressionError =>
    new ExpressionError(reason, column, source, cause === undefined ? undefined : { cause });
  return Object.freeze({
    source,
    names,
    evaluate(scope: ExpressionScope): boolean {
      if (scope === null || typeof scope !== "object") throw fail("evaluation needs an object of outputs", 1);
      let value: Value;
      try {
        value = run({ scope, source });
      } catch (err) {
        if (err instanceof ExpressionError) throw err;
        throw fail(`evaluation failed: ${err instanceof Error ? err.message : String(err)}`, 1, err);
      }
      if (typeof value === "boolean") return value;
      if (value instanceof Uint8Array) return value.every((b) => b === 1);
      throw fail(`the expression evaluated to ${kindOf(value)}, not true/false`, 1);
    },
  });
}

// ---------------------------------------------------------------- values

/** Numbers, element-wise (never a caller's array: those are copied or are already Float64Array). */
type Vec = Float64Array;
/** Booleans, element-wise, as 0/1. */
type Mask = Uint8Array;
type Numeric = number | Vec;
type Truth = boolean | Mask;
type Value = Numeric | Truth;

/** What the parser knows of a sub-expression's result: names are only known at evaluation. */
type StaticType = "number" | "boolean" | "unknown";

interface Frame {
  readonly scope: ExpressionScope;
  readonly source: string;
  /** Converted array outputs, so a name used twice is converted once per row. */
  converted?: Map<string, Value>;
}

type Run = (frame: Frame) => Value;

interface Node {
  readonly type: StaticType;
  /** 1-based column where the sub-expression starts. */
  readonly column: number;
  readonly run: Run;
  /** How to call the value in messages (a name), if it has a better label than "the value". */
  readonly label?: string;
}

function raise(frame: Frame, reason: string, column: number): never {
  throw new ExpressionError(reason, column, frame.source);
}

function kindOf(value: Value): string {
  if (typeof value === "number") return "a number";
  if (typeof value === "boolean") return "true/false";
  if (value instanceof Uint8Array) return "element-wise true/false";
  return "an array of numbers";
}

function numeric(frame: Frame, value: Value, what: string, column: number): Numeric {
  if (typeof value === "number" || value instanceof Float64Array) return value;
  return raise(frame, `${what} needs a number, got ${kindOf(value)}`, column);
}

function truth(frame: Frame, value: Value, what: string, column: number): Truth {
  if (typeof value === "boolean" || value instanceof Uint8Array) return value;
  return raise(frame, `${what} needs true/false, got ${kindOf(value)}`, column);
}

/** Length of an element-wise operation on `a` and `b`, or -1 when both are scalars. */
function pairLength(frame: Frame, a: number | ArrayLike<number>, b: number | ArrayLike<number>, what: string, column: number): number {
  if (typeof a === "number") return typeof b === "number" ? -1 : b.length;
  if (typeof b === "number" || a.length === b.length) return a.length;
  return raise(frame, `${what} on arrays of different lengths (${a.length} and ${b.length})`, column);
}

function mapNumbers(frame: Frame, a: Numeric, b: Numeric, fn: (x: number, y: number) => number, what: string, column: number): Numeric {
  const n = pairLength(frame, a, b, what, column);
  if (n < 0) return fn(a as number, b as number);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = fn(typeof a === "number" ? a : a[i]!, typeof b === "number" ? b : b[i]!);
  return out;
}

/** Compares element-wise; booleans arrive as 0/1. */
function compare(frame: Frame, a: number | ArrayLike<number>, b: number | ArrayLike<number>, fn: (x: number, y: number) => boolean, what: string, column: number): Truth {
  const n = pairLength(frame, a, b, what, column);
  if (n < 0) return fn(a as number, b as number);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = fn(typeof a === "number" ? a : a[i]!, typeof b === "number" ? b : b[i]!) ? 1 : 0;
  return out;
}

function mapOne(value: Numeric, fn: (x: number) => number): Numeric {
  return typeof value === "number" ? fn(value) : value.map(fn);
}

const ARITHMETIC: ReadonlyMap<string, (x: number, y: number) => number> = new Map([
  ["+", (x: number, y: number) => x + y],
  ["-", (x: number, y: number) => x - y],
  ["*", (x: number, y: number) => x * y],
  ["/", (x: number, y: number) => x / y],
  ["%", (x: number, y: number) => x % y],
]);

/** NaN makes every comparison false, `!=` included. */
const COMPARISONS: ReadonlyMap<string, (x: number, y: number) => boolean> = new Map([
  ["<", (x: number, y: number) => x < y],
  ["<=", (x: number, y: number) => x <= y],
  [">", (x: number, y: number) => x > y],
  [">=", (x: number, y: number) => x >= y],
  ["==", (x: number, y: number) => x === y],
  ["!=", (x: number, y: number) => x !== y && x === x && y === y],
]);

function element(frame: Frame, name: string, raw: unknown, column: number): number {
  if (typeof raw === "number") return raw;
  if (typeof raw === "bigint") return Number(raw);
  return raise(frame, `output "${name}" has an element that is not a number`, column);
}

/** A name's value in this row: a number (one element), true/false, or an array of numbers. */
function lookup(frame: Frame, name: string, column: number): Value {
  const scope = frame.scope;
  if (!Object.hasOwn(scope, name)) raise(frame, `no output named "${name}" in this row`, column);
  const raw: unknown = scope[name];
  if (typeof raw === "number" || typeof raw === "boolean") return raw;
  if (typeof raw === "bigint") return Number(raw);
  const cached = frame.converted?.get(name);
  if (cached !== undefined) return cached;
  const length = raw !== null && typeof raw === "object" ? (raw as { length?: unknown }).length : undefined;
  if (typeof length !== "number" || !Number.isSafeInteger(length) || length < 0) {
    return raise(frame, `output "${name}" is not a number, an array of numbers or true/false`, column);
  }
  const items = raw as ArrayLike<unknown>;
  let value: Value;
  if (length === 1) value = element(frame, name, items[0], column);
  else if (raw instanceof Float64Array) value = raw;
  else {
    const out = new Float64Array(length);
    for (let i = 0; i < length; i++) out[i] = element(frame, name, items[i], column);
    value = out;
  }
  (frame.converted ??= new Map()).set(name, value);
  return value;
}

// ---------------------------------------------------------------- functions

interface FunctionSpec {
  readonly arg: "number" | "boolean";
  readonly result: "number" | "boolean";
  apply(frame: Frame, value: Value, column: number, label: string): Value;
}

function reduce(name: string, fold: (v: Vec) => number, empty?: number): FunctionSpec {
  return {
    arg: "number",
    result: "number",
    apply(frame, value, column, label) {
      const v = numeric(frame, value, `${name}()`, column);
      if (typeof v === "number") return fold(Float64Array.of(v));
      if (v.length === 0) return empty ?? raise(frame, `${name}() of ${label}, which is empty`, column);
      return fold(v);
    },
  };
}

function extreme(v: Vec, better: (x: number, y: number) => boolean): number {
  let best = v[0]!;
  for (const x of v) {
    if (x !== x) return NaN;
    if (better(x, best)) best = x;
  }
  return best;
}

function reduceTruth(name: string, every: boolean): FunctionSpec {
  return {
    arg: "boolean",
    result: "boolean",
    apply(frame, value, column) {
      const t = truth(frame, value, `${name}()`, column);
      if (typeof t === "boolean") return t;
      return every ? t.every((b) => b === 1) : t.some((b) => b === 1);
    },
  };
}

const FUNCTIONS: ReadonlyMap<string, FunctionSpec> = new Map<string, FunctionSpec>([
  ["max", reduce("max", (v) => extreme(v, (x, y) => x > y))],
  ["min", reduce("min", (v) => extreme(v, (x, y) => x < y))],
  ["sum", reduce("sum", (v) => v.reduce((s, x) => s + x, 0), 0)],
  ["mean", reduce("mean", (v) => v.reduce((s, x) => s + x, 0) / v.length)],
  ["len", reduce("len", (v) => v.length, 0)],
  ["argmax", reduce("argmax", (v) => {
    let best = 0;
    for (let i = 0; i < v.length; i++) {
      if (v[i] !== v[i]) return i;
      if (v[i]! > v[best]!) best = i;
    }
    return best;
  })],
  ["abs", { arg: "number", result: "number", apply: (frame, value, column) => mapOne(numeric(frame, value, "abs()", column), Math.abs) }],
  ["any", reduceTruth("any", false)],
  ["all", reduceTruth("all", true)],
]);

const FUNCTION_LIST = [...FUNCTIONS.keys()].sort().join(", ");

// ---------------------------------------------------------------- tokens

type TokenKind = "number" | "name" | "quoted" | "op" | "end";

interface Token {
  readonly kind: TokenKind;
  /** The token as written (the name alone for a quoted name). */
  readonly text: string;
  /** 1-based. */
  readonly column: number;
}

const NUMBER = /(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?/y;
const IDENTIFIER = /[A-Za-z_][A-Za-z0-9_]*/y;
const TWO_CHAR_OPS = new Set(["<=", ">=", "==", "!=", "&&", "||"]);
const ONE_CHAR_OPS = new Set(["(", ")", "[", "]", ",", "+", "-", "*", "/", "%", "<", ">", "!"]);

function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  const fail = (reason: string, at: number): never => {
    throw new ExpressionError(reason, at + 1, source);
  };
  let i = 0;
  while (i < source.length) {
    const c = source[i]!;
    if (c === " " || c === "\t" || c === "\n" || c === "\r") {
      i++;
      continue;
    }
    const start = i;
    if ((c >= "0" && c <= "9") || (c === "." && /[0-9]/.test(source[i + 1] ?? ""))) {
      NUMBER.lastIndex = i;
      const m = NUMBER.exec(source)!;
      i += m[0].length;
      if (/[A-Za-z0-9_.`]/.test(source[i] ?? "")) fail(`malformed number "${source.slice(start, i + 1)}"`, start);
      tokens.push({ kind: "number", text: m[0], column: start + 1 });
    } else if (/[A-Za-z_]/.test(c)) {
      IDENTIFIER.lastIndex = i;
      const m = IDENTIFIER.exec(source)!;
      i += m[0].length;
      tokens.push({ kind: "name", text: m[0], column: start + 1 });
    } else if (c === "`") {
      const close = source.indexOf("`", i + 1);
      if (close < 0) fail("unterminated `-quoted name", start);
      if (close === i + 1) fail("empty `-quoted name", start);
      tokens.push({ kind: "quoted", text: source.slice(i + 1, close), column: start + 1 });
      i = close + 1;
    } else if (TWO_CHAR_OPS.has(source.slice(i, i + 2))) {
      tokens.push({ kind: "op", text: source.slice(i, i + 2), column: start + 1 });
      i += 2;
    } else if (ONE_CHAR_OPS.has(c)) {
      tokens.push({ kind: "op", text: c, column: start + 1 });
      i++;
    } else if (c === "=") {
      fail(`unexpected "=" (use "==" to compare)`, start);
    } else if (c === "&" || c === "|") {
      fail(`unexpected "${c}" (use "${c}${c}" or "${c === "&" ? "and" : "or"}")`, start);
    } else {
      fail(`unexpected character ${JSON.stringify(String.fromCodePoint(source.codePointAt(i)!))}`, start);
    }
  }
  tokens.push({ kind: "end", text: "", column: source.length + 1 });
  return tokens;
}

function describe(token: Token): string {
  if (token.kind === "end") return "the end of the expression";
  if (token.kind === "quoted") return `\`${token.text}\``;
  return JSON.stringify(token.text);
}

// ---------------------------------------------------------------- parser

const KEYWORDS = new Set(["and", "or", "not", "true", "false"]);

class Parser {
  readonly names = new Set<string>();
  private pos = 0;
  private depth = 0;

  constructor(
    private readonly source: string,
    private readonly tokens: readonly Token[],
    private readonly known: ReadonlySet<string> | undefined,
  ) {}

  /** The whole source: one boolean expression and nothing after it. */
  parseExpression(): Node {
    if (this.peek().kind === "end") this.fail("expected an expression", 1);
    const root = this.parseOr();
    const rest = this.peek();
    if (rest.kind !== "end") this.fail(`unexpected ${describe(rest)}`, rest.column);
    if (root.type === "number") {
      this.fail("the expression must be true/false (a comparison, any(...), all(...)), but it is a number", root.column);
    }
    return root;
  }

  private fail(reason: string, column: number): never {
    throw new ExpressionError(reason, column, this.source);
  }

  private peek(): Token {
    return this.tokens[this.pos]!;
  }

  private next(): Token {
    const token = this.tokens[this.pos]!;
    if (token.kind !== "end") this.pos++;
    return token;
  }

  private isOp(...ops: string[]): boolean {
    const t = this.peek();
    return t.kind === "op" && ops.includes(t.text);
  }

  private isKeyword(word: string): boolean {
    const t = this.peek();
    return t.kind === "name" && t.text === word;
  }

  private expect(op: string): void {
    const t = this.peek();
    if (t.kind === "op" && t.text === op) this.pos++;
    else this.fail(t.kind === "end" ? `expected "${op}"` : `expected "${op}" but found ${describe(t)}`, t.column);
  }

  private enter(token: Token): void {
    if (++this.depth > MAX_EXPRESSION_DEPTH) this.fail(`expression is nested too deeply (the limit is ${MAX_EXPRESSION_DEPTH})`, token.column);
  }

  private leave(): void {
    this.depth--;
  }

  private requireNumber(node: Node, what: string): void {
    if (node.type === "boolean") this.fail(`${what} needs a number, but this is true/false`, node.column);
  }

  private requireBoolean(node: Node, what: string): void {
    if (node.type === "number") this.fail(`${what} needs true/false, but this is a number (compare it with something?)`, node.column);
  }

  private parseOr(): Node {
    let left = this.parseAnd();
    while (this.isOp("||") || this.isKeyword("or")) {
      const op = this.next();
      left = this.logical(left, op, this.parseAnd(), false);
    }
    return left;
  }

  private parseAnd(): Node {
    let left = this.parseNot();
    while (this.isOp("&&") || this.isKeyword("and")) {
      const op = this.next();
      left = this.logical(left, op, this.parseNot(), true);
    }
    return left;
  }

  /** `and` / `or`: a plain true/false on the left decides alone; arrays combine element-wise. */
  private logical(left: Node, op: Token, right: Node, isAnd: boolean): Node {
    const what = `"${op.text}"`;
    this.requireBoolean(left, what);
    this.requireBoolean(right, what);
    const l = left.run;
    const r = right.run;
    const column = op.column;
    return {
      type: "boolean",
      column: left.column,
      run(frame) {
        const a = truth(frame, l(frame), what, column);
        if (typeof a === "boolean" && a !== isAnd) return a;
        const b = truth(frame, r(frame), what, column);
        if (typeof a === "boolean") return b;
        if (typeof b === "boolean") return b === isAnd ? a : b;
        return compare(frame, a, b, isAnd ? (x, y) => x === 1 && y === 1 : (x, y) => x === 1 || y === 1, what, column);
      },
    };
  }

  private parseNot(): Node {
    if (!(this.isOp("!") || this.isKeyword("not"))) return this.parseComparison();
    const op = this.next();
    this.enter(op);
    const arg = this.parseNot();
    this.leave();
    const what = `"${op.text}"`;
    this.requireBoolean(arg, what);
    const run = arg.run;
    return {
      type: "boolean",
      column: op.column,
      run(frame) {
        const v = truth(frame, run(frame), what, op.column);
        return typeof v === "boolean" ? !v : v.map((b) => 1 - b);
      },
    };
  }

  private parseComparison(): Node {
    const left = this.parseSum();
    if (!this.isOp(...COMPARISONS.keys())) return left;
    const op = this.next();
    const right = this.parseSum();
    if (this.isOp(...COMPARISONS.keys())) this.fail(`comparisons cannot be chained; join them with "and"`, this.peek().column);
    const what = `"${op.text}"`;
    const fn = COMPARISONS.get(op.text)!;
    const l = left.run;
    const r = right.run;
    const column = op.column;
    if (op.text === "==" || op.text === "!=") {
      if (left.type !== "unknown" && right.type !== "unknown" && left.type !== right.type) {
        this.fail(`${what} cannot compare a number with true/false`, column);
      }
      return {
        type: "boolean",
        column: left.column,
        run(frame) {
          const a = l(frame);
          const b = r(frame);
          const aNum = typeof a === "number" || a instanceof Float64Array;
          const bNum = typeof b === "number" || b instanceof Float64Array;
          if (aNum !== bNum) raise(frame, `${what} cannot compare ${kindOf(a)} with ${kindOf(b)}`, column);
          const x = typeof a === "boolean" ? Number(a) : a;
          const y = typeof b === "boolean" ? Number(b) : b;
          return compare(frame, x, y, fn, what, column);
        },
      };
    }
    this.requireNumber(left, what);
    this.requireNumber(right, what);
    return {
      type: "boolean",
      column: left.column,
      run: (frame) => compare(frame, numeric(frame, l(frame), what, column), numeric(frame, r(frame), what, column), fn, what, column),
    };
  }

  private parseSum(): Node {
    let left = this.parseProduct();
    while (this.isOp("+", "-")) {
      const op = this.next();
      left = this.arithmetic(left, op, this.parseProduct());
    }
    return left;
  }

  private parseProduct(): Node {
    let left = this.parseUnary();
    while (this.isOp("*", "/", "%")) {
      const op = this.next();
      left = this.arithmetic(left, op, this.parseUnary());
    }
    return left;
  }

  private arithmetic(left: Node, op: Token, right: Node): Node {
    const what = `"${op.text}"`;
    this.requireNumber(left, what);
    this.requireNumber(right, what);
    const fn = ARITHMETIC.get(op.text)!;
    const l = left.run;
    const r = right.run;
    const column = op.column;
    return {
      type: "number",
      column: left.column,
      run: (frame) => mapNumbers(frame, numeric(frame, l(frame), what, column), numeric(frame, r(frame), what, column), fn, what, column),
    };
  }

  private parseUnary(): Node {
    if (!this.isOp("-")) return this.parsePostfix();
    const op = this.next();
    this.enter(op);
    const arg = this.parseUnary();
    this.leave();
    this.requireNumber(arg, `"-"`);
    const run = arg.run;
    return { type: "number", column: op.column, run: (frame) => mapOne(numeric(frame, run(frame), `"-"`, op.column), (x) => -x) };
  }

  private parsePostfix(): Node {
    let node = this.parsePrimary();
    while (this.isOp("[")) {
      const open = this.next();
      this.enter(open);
      const index = this.parseOr();
      this.expect("]");
      this.leave();
      if (index.type === "boolean") this.fail("an index must be a number", index.column);
      node = indexNode(node, index, open.column);
    }
    return node;
  }

  private parsePrimary(): Node {
    const t = this.next();
    if (t.kind === "number") {
      const value = Number(t.text);
      return { type: "number", column: t.column, run: () => value };
    }
    if (t.kind === "quoted") return this.name(t);
    if (t.kind === "name") {
      if (t.text === "true" || t.text === "false") {
        const value = t.text === "true";
        return { type: "boolean", column: t.column, run: () => value };
      }
      if (KEYWORDS.has(t.text)) this.fail(`expected a value but found ${describe(t)}`, t.column);
      if (this.isOp("(")) return this.call(t);
      return this.name(t);
    }
    if (t.kind === "op" && t.text === "(") {
      this.enter(t);
      const inner = this.parseOr();
      this.expect(")");
      this.leave();
      return { ...inner, column: t.column };
    }
    return this.fail(t.kind === "end" ? "expected a value" : `expected a value but found ${describe(t)}`, t.column);
  }

  private name(t: Token): Node {
    const name = t.text;
    if (this.known !== undefined && !this.known.has(name)) {
      const list = [...this.known];
      const shown = list.length === 0 ? "none" : list.slice(0, 10).map((n) => JSON.stringify(n)).join(", ") + (list.length > 10 ? ", …" : "");
      this.fail(`unknown output ${JSON.stringify(name)} (known outputs: ${shown})`, t.column);
    }
    this.names.add(name);
    const column = t.column;
    return { type: "unknown", column, label: `"${name}"`, run: (frame) => lookup(frame, name, column) };
  }

  private call(t: Token): Node {
    const spec = FUNCTIONS.get(t.text);
    if (spec === undefined) this.fail(`unknown function "${t.text}" (functions: ${FUNCTION_LIST})`, t.column);
    const open = this.next();
    this.enter(open);
    if (this.isOp(")")) this.fail(`${t.text}() takes one argument`, this.peek().column);
    const arg = this.parseOr();
    if (this.isOp(",")) this.fail(`${t.text}() takes one argument`, this.peek().column);
    this.expect(")");
    this.leave();
    if (spec.arg === "number") this.requireNumber(arg, `${t.text}()`);
    else this.requireBoolean(arg, `${t.text}()`);
    const run = arg.run;
    const label = arg.label ?? "the value";
    return { type: spec.result, column: t.column, run: (frame) => spec.apply(frame, run(frame), t.column, label) };
  }
}

function indexNode(target: Node, index: Node, column: number): Node {
  const t = target.run;
  const ix = index.run;
  const label = target.label ?? "the value";
  return {
    type: target.type,
    column: target.column,
    run(frame) {
      const value = t(frame);
      const i = ix(frame);
      if (typeof i !== "number") return raise(frame, `an index must be a single number, got ${kindOf(i)}`, column);
      if (!Number.isInteger(i)) return raise(frame, `index ${i} is not a whole number`, column);
      const length = typeof value === "number" || typeof value === "boolean" ? 1 : value.length;
      if (i < 0 || i >= length) return raise(frame, `index ${i} is out of range for ${label} (${length} element${length === 1 ? "" : "s"})`, column);
      if (typeof value === "number" || typeof value === "boolean") return value;
      return value instanceof Uint8Array ? value[i] === 1 : value[i]!;
    },
  };
}
