// Setup for mutation runs only (vitest.mutation.config.ts): a property that fails under a mutant
// has done its job; shrinking the counterexample can take longer than the timeout Stryker allows.
import fc from 'fast-check'

fc.configureGlobal({ endOnFailure: true })
