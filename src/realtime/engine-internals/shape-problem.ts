/**
 * A patch found the engine without the inner shape it was written for: after an upgrade of
 * engine.io, socket.io or Node.js, say. The patch then leaves that connection as it is (memory
 * grows back to what an unpatched connection costs; behaviour is unchanged), and the problem
 * names the file to revisit.
 */
export interface EngineShapeProblem {
  /** The patch's source file, from the repository root. */
  file: string;
  /** What the patch expected and did not find. */
  expected: string;
}

/** Receives each {@link EngineShapeProblem} as it is found. */
export type ShapeProblemListener = (problem: EngineShapeProblem) => void;

/** One readable line for logs and test failures. */
export function describeShapeProblem(problem: EngineShapeProblem): string {
  return `engine internals changed: expected ${problem.expected}; revisit ${problem.file}`;
}
