// Shared by tests that inspect an exception's fields: the value `fn` throws, failing the test when it returns.

/** The exception `fn` throws. @throws {Error} "expected an exception" when `fn` returns normally */
export function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error("expected an exception");
}
