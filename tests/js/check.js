// Assertions shared by the scenario files (no test framework: the same files run under
// wasm-bindgen-test in Node and Chrome, and under node --test).

export function assert(cond, message) {
  if (!cond) throw new Error(`assertion failed: ${message}`);
}
export function eq(actual, expected, message) {
  const a = JSON.stringify(actual), e = JSON.stringify(expected);
  if (a !== e) throw new Error(`${message}: expected ${e}, got ${a}`);
}
export function throwsCode(fn, code, culprit, message) {
  try {
    fn();
  } catch (e) {
    assert(e instanceof Error, `${message}: threw a non-Error`);
    eq(e.code, code, `${message}: code`);
    if (culprit) assert(e.message.includes(culprit), `${message}: '${e.message}' names '${culprit}'`);
    return e;
  }
  throw new Error(`${message}: did not throw`);
}
export async function rejectsCode(promise, code, message) {
  try {
    await promise;
  } catch (e) {
    eq(e.code, code, `${message}: code`);
    return;
  }
  throw new Error(`${message}: did not reject`);
}
