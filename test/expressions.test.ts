import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { compileExpression, ExpressionError, type ExpressionScope } from "@ferry/contracts";
import { prng } from "./helpers/prng.js";

/** Compiles and evaluates in one go. */
function check(source: string, scope: ExpressionScope = {}): boolean {
  return compileExpression(source).evaluate(scope);
}

/** Asserts that `fn` throws an ExpressionError at `column` whose message contains `fragment`. */
function throwsAt(fn: () => unknown, column: number, fragment: string | RegExp): ExpressionError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof ExpressionError, `expected an ExpressionError, got ${String(caught)}`);
  assert.equal(caught.column, column, caught.message);
  if (typeof fragment === "string") assert.ok(caught.message.includes(fragment), caught.message);
  else assert.match(caught.message, fragment);
  return caught;
}

function parseFails(source: string, column: number, fragment: string | RegExp, known?: readonly string[]): ExpressionError {
  return throwsAt(() => compileExpression(source, known), column, fragment);
}

function evalFails(source: string, scope: ExpressionScope, column: number, fragment: string | RegExp): ExpressionError {
  const compiled = compileExpression(source);
  return throwsAt(() => compiled.evaluate(scope), column, fragment);
}

describe("validation expressions: Wallaroo's examples", () => {
  it("variable < 1000000 on a [1,1] output", () => {
    const e = compileExpression("variable < 1000000", ["variable"]);
    assert.equal(e.source, "variable < 1000000");
    assert.deepEqual(e.names, ["variable"]);
    assert.equal(e.evaluate({ variable: [512_000] }), true);
    assert.equal(e.evaluate({ variable: new Float32Array([2_500_000]) }), false);
    assert.equal(e.evaluate({ variable: 999_999 }), true);
    assert.equal(e.evaluate({ variable: [1_000_000] }), false);
  });

  it("max(probabilities) > 0.2", () => {
    const e = compileExpression("max(probabilities) > 0.2");
    assert.equal(e.evaluate({ probabilities: [0.1, 0.15, 0.25] }), true);
    assert.equal(e.evaluate({ probabilities: new Float32Array([0.1, 0.15, 0.05]) }), false);
    assert.equal(e.evaluate({ probabilities: [0.3] }), true);
  });

  it("is reusable across rows and frozen", () => {
    const e = compileExpression("x > y");
    assert.equal(e.evaluate({ x: [2], y: [1] }), true);
    assert.equal(e.evaluate({ x: [0], y: [1] }), false);
    assert.ok(Object.isFrozen(e));
    assert.ok(Object.isFrozen(e.names));
  });
});

describe("validation expressions: syntax and precedence", () => {
  it("numbers: integers, decimals, exponents", () => {
    assert.equal(check("1e6 == 1000000"), true);
    assert.equal(check("2.5E-3 == 0.0025"), true);
    assert.equal(check(".5 == 0.5 and 5. == 5"), true);
    assert.equal(check("1e+2 == 100"), true);
  });

  it("arithmetic precedence and associativity", () => {
    assert.equal(check("1 + 2 * 3 == 7"), true);
    assert.equal(check("(1 + 2) * 3 == 9"), true);
    assert.equal(check("10 - 4 - 3 == 3"), true);
    assert.equal(check("24 / 4 / 2 == 3"), true);
    assert.equal(check("7 % 4 == 3"), true);
    assert.equal(check("-2 * 3 == -6"), true);
    assert.equal(check("- -2 == 2"), true);
    assert.equal(check("2 - -2 == 4"), true);
    assert.equal(check("1 + 2 > 2 * 1"), true);
    assert.equal(check("1 / 0 > 1e308"), true);
  });

  it("logical precedence: not > and > or, with synonyms", () => {
    assert.equal(check("true or false and false"), true);
    assert.equal(check("(true or false) and false"), false);
    assert.equal(check("true || false && false"), true);
    assert.equal(check("not false and false"), false);
    assert.equal(check("!false && !false"), true);
    assert.equal(check("not not true"), true);
    assert.equal(check("1 < 2 and 3 >= 3 and 4 <= 4 and 5 != 6 and 7 == 7"), true);
  });

  it("not binds looser than comparisons (not x > 2 is not (x > 2))", () => {
    assert.equal(check("not x > 2", { x: [1] }), true);
    assert.equal(check("!x > 2", { x: [3] }), false);
  });

  it("and / or short-circuit on a plain true/false", () => {
    assert.equal(check("len(x) > 3 and x[3] > 0", { x: [1, 2] }), false);
    assert.equal(check("len(x) < 3 or x[3] > 0", { x: [1, 2] }), true);
  });

  it("whitespace, newlines and tabs are ignored", () => {
    assert.equal(check("\tx\n>\r\n 1 ", { x: [2] }), true);
  });

  it("backtick-quoted names for other characters", () => {
    const e = compileExpression("`out.variable` > 1 and `my output-2`[0] == 3", ["out.variable", "my output-2"]);
    assert.deepEqual(e.names, ["out.variable", "my output-2"]);
    assert.equal(e.evaluate({ "out.variable": [2], "my output-2": [3, 4] }), true);
    assert.equal(check("`max` > 1 and `and` < 1", { max: [2], and: [0] }), true);
  });

  it("names are listed once each, in order of first use", () => {
    assert.deepEqual(compileExpression("b > a and a < c or b == 1").names, ["b", "a", "c"]);
    assert.deepEqual(compileExpression("1 < 2").names, []);
  });

  it("booleans: literals and boolean outputs", () => {
    assert.equal(check("true"), true);
    assert.equal(check("false"), false);
    assert.equal(check("flag", { flag: true }), true);
    assert.equal(check("flag and x > 1", { flag: false, x: [2] }), false);
    assert.equal(check("flag == false", { flag: false }), true);
    assert.equal(check("(x > 1) == (y > 1)", { x: [0], y: [0] }), true);
    assert.equal(check("true != false"), true);
  });
});

describe("validation expressions: arrays", () => {
  it("a comparison on an array is true only if true for ALL elements", () => {
    const e = compileExpression("x > 0");
    assert.equal(e.evaluate({ x: [1, 2, 3] }), true);
    assert.equal(e.evaluate({ x: [1, -2, 3] }), false);
    assert.equal(e.evaluate({ x: [] }), true, "vacuously true for an empty output");
  });

  it("arithmetic is element-wise with broadcasting of single numbers", () => {
    assert.equal(check("x * 2 == y", { x: [1, 2, 3], y: [2, 4, 6] }), true);
    assert.equal(check("x * 2 == y", { x: [1, 2, 3], y: [2, 4, 7] }), false);
    assert.equal(check("x - y < 1", { x: [5, 6], y: [4.5] }), false);
    assert.equal(check("abs(x - y) < 0.01", { x: [1, 2], y: [1.001, 1.999] }), true);
    assert.equal(check("sum(x * x) == 14", { x: [1, 2, 3] }), true);
  });

  it("arrays of different lengths are an evaluation error", () => {
    evalFails("x < y", { x: [1, 2], y: [1, 2, 3] }, 3, "different lengths (2 and 3)");
    evalFails("x + y > 0", { x: [1, 2], y: [1, 2, 3] }, 3, "different lengths");
  });

  it("any / all make element-wise intent explicit", () => {
    assert.equal(check("any(probabilities > 0.5)", { probabilities: [0.1, 0.7] }), true);
    assert.equal(check("any(probabilities > 0.5)", { probabilities: [0.1, 0.2] }), false);
    assert.equal(check("all(probabilities > 0.05)", { probabilities: [0.1, 0.7] }), true);
    assert.equal(check("all(probabilities > 0.5)", { probabilities: [0.1, 0.7] }), false);
    assert.equal(check("any(x > 0)", { x: [] }), false);
    assert.equal(check("all(x > 0)", { x: [] }), true);
    assert.equal(check("any(true)"), true);
  });

  it("not / and / or combine element-wise results element-wise", () => {
    assert.equal(check("any(x > 1 and x < 3)", { x: [0, 2, 4] }), true);
    assert.equal(check("any(x > 1 and x < 3)", { x: [0, 4] }), false);
    assert.equal(check("x < 1 or x > 3", { x: [0, 4] }), true);
    assert.equal(check("not (x > 2)", { x: [1, 2] }), true);
    assert.equal(check("not (x > 2)", { x: [1, 3] }), false);
    assert.equal(check("x > 0 and false", { x: [] }), false, "a plain false decides even for an empty output");
    assert.equal(check("x > 5 or true", { x: [1] }), true);
  });

  it("aggregates take the whole array", () => {
    const scope = { x: [3, 1, 4, 1, 5, 9, 2, 6] };
    assert.equal(check("max(x) == 9 and min(x) == 1", scope), true);
    assert.equal(check("sum(x) == 31 and len(x) == 8", scope), true);
    assert.equal(check("mean(x) == 31 / 8", scope), true);
    assert.equal(check("argmax(x) == 5", scope), true);
    assert.equal(check("argmax(y) == 0", { y: [2, 1, 2] }), true, "first maximum wins");
    assert.equal(check("len(x) == 1 and max(x) == 7 and argmax(x) == 0", { x: [7] }), true);
    assert.equal(check("len(x) == 0 and sum(x) == 0", { x: [] }), true);
  });

  it("aggregates of an empty output that have no value are evaluation errors", () => {
    evalFails("max(x) > 0", { x: [] }, 1, 'max() of "x", which is empty');
    evalFails("mean(x) > 0", { x: [] }, 1, "empty");
    evalFails("1 < argmax(x)", { x: [] }, 5, "empty");
  });

  it("indexing is 0-based and checked", () => {
    const scope = { x: [10, 20, 30], y: [0.1, 0.7, 0.2] };
    assert.equal(check("x[0] == 10 and x[2] == 30", scope), true);
    assert.equal(check("x[argmax(y)] == 20", scope), true);
    assert.equal(check("x[1 + 1] == 30", scope), true);
    assert.equal(check("(x * 2)[1] == 40", scope), true);
    assert.equal(check("(x > 15)[1]", scope), true);
    assert.equal(check("v[0] == 5", { v: [5] }), true, "a one-element output indexes at 0");
    assert.equal(check("v[0][0] == 5", { v: 5 }), true);
    evalFails("x[3] > 0", scope, 2, 'index 3 is out of range for "x" (3 elements)');
    evalFails("x[-1] > 0", scope, 2, "index -1 is out of range");
    evalFails("x[0.5] > 0", scope, 2, "not a whole number");
    evalFails("v[1] > 0", { v: [5] }, 2, "(1 element)");
    evalFails("x[y] > 0", scope, 2, "an index must be a single number");
  });
});

describe("validation expressions: numbers from the wire", () => {
  it("NaN comparisons are false, != included", () => {
    assert.equal(check("x > 1", { x: NaN }), false);
    assert.equal(check("x < 1", { x: [NaN] }), false);
    assert.equal(check("x == x", { x: [NaN] }), false);
    assert.equal(check("x != 1", { x: [NaN] }), false);
    assert.equal(check("not (x == x)", { x: [NaN] }), true, "the NaN test");
    assert.equal(check("any(not (x == x))", { x: new Float32Array([1, NaN]) }), true);
    assert.equal(check("max(x) > 0", { x: [1, NaN, 3] }), false, "max propagates NaN");
    assert.equal(check("argmax(x) == 1", { x: [1, NaN, 3] }), true);
  });

  it("bigints are converted with Number()", () => {
    assert.equal(check("x == 3", { x: 3n }), true);
    assert.equal(check("x == 3", { x: [3n] }), true);
    assert.equal(check("sum(x) == 6 and x[2] == 3", { x: new BigInt64Array([1n, 2n, 3n]) }), true);
    assert.equal(check("x > 1e18", { x: new BigUint64Array([2n ** 63n]) }), true);
  });

  it("typed arrays of every kind are numbers (a Uint8Array is not true/false)", () => {
    assert.equal(check("sum(x) == 6", { x: new Uint8Array([1, 2, 3]) }), true);
    assert.equal(check("x[1] == 2", { x: new Int32Array([1, 2, 3]) }), true);
    assert.equal(check("x < 1", { x: new Float64Array([0.5, 0.25]) }), true);
    evalFails("any(x)", { x: new Uint8Array([1, 0]) }, 1, "any() needs true/false, got an array of numbers");
  });

  it("does not mutate its inputs", () => {
    const x = new Float64Array([1, -2, 3]);
    assert.equal(check("abs(-x) * 2 > 0", { x }), true);
    assert.deepEqual([...x], [1, -2, 3]);
  });
});

describe("validation expressions: errors", () => {
  it("unbalanced parentheses and brackets", () => {
    const err = parseFails("max(x > 2", 10, 'expected ")"');
    assert.equal(err.message, 'expected ")" at column 10 in "max(x > 2"');
    assert.equal(err.name, "ExpressionError");
    assert.ok(err instanceof Error);
    parseFails("(x > 1", 7, 'expected ")"');
    parseFails("x > 1)", 6, 'unexpected ")"');
    parseFails("x[0 > 1", 8, 'expected "]"');
    parseFails("(x > 1]", 7, 'expected ")" but found "]"');
    parseFails("x > ()", 6, 'expected a value but found ")"');
  });

  it("trailing and misplaced operators", () => {
    parseFails("x >", 4, "expected a value at column 4");
    parseFails("x > 1 and", 10, "expected a value");
    parseFails("x + ", 5, "expected a value");
    parseFails("* x > 1", 1, 'expected a value but found "*"');
    parseFails("x > 1 x", 7, 'unexpected "x"');
    parseFails("x > and 1", 5, 'expected a value but found "and"');
    parseFails("", 1, "expected an expression");
    parseFails("   ", 1, "expected an expression");
  });

  it("bad characters and tokens", () => {
    parseFails("x = 1", 3, 'unexpected "=" (use "==" to compare)');
    parseFails("x > 1 & y", 7, 'use "&&" or "and"');
    parseFails("x > 1 | y", 7, 'use "||" or "or"');
    parseFails("x > 1 ; y", 7, 'unexpected character ";"');
    parseFails("x > 1abc", 5, 'malformed number "1a"');
    parseFails("x > 1.2.3", 5, "malformed number");
    parseFails("x > 1e", 5, "malformed number");
    parseFails("`abc > 1", 1, "unterminated `-quoted name");
    parseFails("`` > 1", 1, "empty `-quoted name");
    parseFails("x > 'a'", 5, "unexpected character");
  });

  it("functions: unknown, wrong arity", () => {
    parseFails("foo(x) > 1", 1, 'unknown function "foo" (functions: abs, all, any, argmax, len, max, mean, min, sum)');
    parseFails("constructor(x) > 1", 1, "unknown function");
    parseFails("max(x, y) > 1", 6, "max() takes one argument");
    parseFails("max() > 1", 5, "max() takes one argument");
  });

  it("unknown names with `known`", () => {
    parseFails("x > 1 and y < 2", 11, 'unknown output "y" (known outputs: "x")', ["x"]);
    parseFails("`a.b` > 1", 1, 'unknown output "a.b"', ["a"]);
    parseFails("x > 1", 1, "known outputs: none", []);
    assert.deepEqual(compileExpression("x > 1", ["x", "y"]).names, ["x"]);
  });

  it("a number at the top level is a parse error when it can be seen", () => {
    parseFails("1 + 2", 1, "must be true/false");
    parseFails("max(x)", 1, "must be true/false");
    parseFails("(x * 2)", 1, "must be true/false");
    parseFails("-x", 1, "must be true/false");
    evalFails("x", { x: [1, 2] }, 1, "evaluated to an array of numbers, not true/false");
    evalFails("x", { x: 3 }, 1, "evaluated to a number");
  });

  it("type errors are found at parse time where they can be", () => {
    parseFails("x + true > 1", 5, '"+" needs a number');
    parseFails("not 5", 5, '"not" needs true/false');
    parseFails("1 and x > 2", 1, '"and" needs true/false');
    parseFails("any(x + 1) or y", 5, "any() needs true/false");
    parseFails("max(x > 1) > 0", 5, "max() needs a number");
    parseFails("(1 < 2) < 3", 1, '"<" needs a number');
    parseFails("x == 1 == true", 8, "cannot be chained");
    parseFails("1 < x < 3", 7, 'comparisons cannot be chained; join them with "and"');
    parseFails("true == 1", 6, "cannot compare a number with true/false");
    parseFails("x[true] > 1", 3, "an index must be a number");
  });

  it("type errors found at evaluation", () => {
    evalFails("x + 1 > 2", { x: true }, 3, '"+" needs a number, got true/false');
    evalFails("x and true", { x: [1] }, 3, '"and" needs true/false, got a number');
    evalFails("x == y", { x: true, y: [1] }, 3, "cannot compare true/false with a number");
    evalFails("any(x)", { x: [1, 2] }, 1, "any() needs true/false");
    evalFails("x > 1", { x: "3" as unknown as number }, 1, 'output "x" is not a number');
    evalFails("x > 1", { x: ["3", 4] as unknown as number[] }, 1, 'output "x" has an element that is not a number');
  });

  it("unknown names at evaluation, prototype names included", () => {
    evalFails("x > 1 and y > 1", { x: [2] }, 11, 'no output named "y" in this row');
    for (const name of ["constructor", "toString", "__proto__", "hasOwnProperty"]) {
      evalFails(`${name} > 1`, {}, 1, `no output named "${name}"`);
    }
  });

  it("rejects sources over 1000 characters", () => {
    const ok = "x > 1" + " ".repeat(995);
    assert.equal(compileExpression(ok).evaluate({ x: [2] }), true);
    const err = parseFails(ok + " ", 1001, "expression is too long (1001 characters; the limit is 1000)");
    assert.ok(err.message.length < 400, "the message quotes only an excerpt");
  });

  it("rejects nesting deeper than 32", () => {
    const nested = (n: number): string => "(".repeat(n) + "x > 1" + ")".repeat(n);
    assert.equal(check(nested(31), { x: [2] }), true);
    parseFails(nested(33), 33, "nested too deeply (the limit is 32)");
    parseFails(nested(495), 33, "nested too deeply");
    parseFails("(".repeat(500) + "x", 33, "nested too deeply");
    parseFails("(".repeat(999), 33, "nested too deeply");
    parseFails("-".repeat(998) + "x", 33, "nested too deeply");
    parseFails("not ".repeat(249) + "x", 129, "nested too deeply");
    parseFails("!".repeat(999) + "x", 33, "nested too deeply");
    parseFails("max(".repeat(200), 132, "nested too deeply");
    parseFails("x" + "[0".repeat(100), 66, "nested too deeply");
  });

  it("long flat chains are fine", () => {
    assert.equal(check("x" + " + x".repeat(240) + " > 0", { x: [1] }), true);
    assert.equal(check(Array.from({ length: 100 }, () => "true").join(" and ")), true);
  });

  it("a scope that is not an object is an ExpressionError", () => {
    const e = compileExpression("x > 1");
    throwsAt(() => e.evaluate(null as unknown as ExpressionScope), 1, "needs an object");
  });
});

describe("validation expressions: random input", () => {


  const pieces = [
    "x", "y", "z", "flag", "`a.b`", "`", "0", "1", "2.5", "1e3", ".5", "1e", "3", "(", "(", ")", ")", "[", "]", ",",
    "+", "-", "*", "/", "%", "<", "<=", ">", ">=", "==", "!=", "!", "=", "&", "|", "&&", "||",
    "and", "or", "not", "true", "false", "max(", "min(", "sum(", "mean(", "len(", "abs(", "any(", "all(", "argmax(",
    "foo(", " ", " ", " ", ".", "e", "#", "\n", "constructor", "__proto__",
  ];

  /** A random expression from the grammar (mostly well-formed, not always well-typed). */
  function grammar(random: () => number, depth = 0): string {
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
    const leaf = (): string => pick(["x", "y", "z", "flag", "`a.b`", "1", "0.5", "2e1", "true", "false", "-1", "x[0]", "z[2]"]);
    if (depth > 4 || random() < 0.25) return leaf();
    const sub = (): string => grammar(random, depth + 1);
    switch (Math.floor(random() * 6)) {
      case 0: return `${sub()} ${pick(["+", "-", "*", "/", "%"])} ${sub()}`;
      case 1: return `${sub()} ${pick(["<", "<=", ">", ">=", "==", "!="])} ${sub()}`;
      case 2: return `${sub()} ${pick(["and", "or", "&&", "||"])} ${sub()}`;
      case 3: return `${pick(["not ", "!", "-"])}${sub()}`;
      case 4: return `${pick(["max", "min", "sum", "mean", "len", "abs", "any", "all", "argmax"])}(${sub()})`;
      default: return `(${sub()})`;
    }
  }

  /** Half grammar-made (some with a random cut or insertion), half random pieces. */
  function randomSource(random: () => number): string {
    if (random() < 0.5) {
      let source = grammar(random);
      if (random() < 0.3) {
        const at = Math.floor(random() * (source.length + 1));
        source = random() < 0.5 ? source.slice(0, at) + source.slice(at + 1) : source.slice(0, at) + pieces[Math.floor(random() * pieces.length)] + source.slice(at);
      }
      return source;
    }
    const count = Math.floor(random() * 30);
    let source = "";
    for (let i = 0; i < count; i++) source += pieces[Math.floor(random() * pieces.length)];
    return source;
  }

  it("2000 random strings either compile or throw ExpressionError, and evaluate to a boolean or throw ExpressionError", () => {
    const random = prng(0xfe77);
    const scopes: ExpressionScope[] = [
      { x: [1, 2, 3], y: 2, z: [NaN, 0.5, -1], flag: true, "a.b": new Float32Array([0.25, 4]) },
      { x: [], y: [5n], z: new BigInt64Array([1n, 2n, 3n]), flag: false, "a.b": 7 },
      { x: [4], y: [1, 2] },
    ];
    let compiled = 0;
    let evaluated = 0;
    const started = Date.now();
    for (let n = 0; n < 2000; n++) {
      const source = randomSource(random);
      let expression;
      try {
        expression = compileExpression(source);
      } catch (err) {
        assert.ok(err instanceof ExpressionError, `compiling ${JSON.stringify(source)} threw ${String(err)}`);
        assert.ok(err.column >= 1 && err.column <= source.length + 1, `column ${err.column} for ${JSON.stringify(source)}`);
        continue;
      }
      compiled++;
      for (const scope of scopes) {
        try {
          assert.equal(typeof expression.evaluate(scope), "boolean");
          evaluated++;
        } catch (err) {
          assert.ok(err instanceof ExpressionError, `evaluating ${JSON.stringify(source)} threw ${String(err)}`);
        }
      }
    }
    assert.ok(compiled > 200, `only ${compiled} of 2000 compiled; the generator is too noisy to test evaluation`);
    assert.ok(evaluated > 200, `only ${evaluated} evaluations succeeded`);
    assert.ok(Date.now() - started < 5000, "random input took too long");
  });

  it("hostile 1000-character inputs fail fast", () => {
    const random = prng(42);
    const started = Date.now();
    for (let n = 0; n < 200; n++) {
      let source = "";
      while (source.length < 1000) source += pieces[Math.floor(random() * pieces.length)];
      source = source.slice(0, 1000);
      try {
        compileExpression(source).evaluate({ x: [1], y: [2], z: [3], flag: true });
      } catch (err) {
        assert.ok(err instanceof ExpressionError, `${JSON.stringify(source)} threw ${String(err)}`);
      }
    }
    for (const unit of ["(", "[", "-", "!", "not ", "max(", "x[", "`", "1e", ")"]) {
      const source = unit.repeat(Math.ceil(1000 / unit.length)).slice(0, 1000);
      assert.throws(() => compileExpression(source), ExpressionError, JSON.stringify(unit));
    }
    assert.ok(Date.now() - started < 5000, "hostile input took too long");
  });
});
