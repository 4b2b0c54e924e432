// CI retries a failed test once (vitest.config.ts). A test that then passes shows only "(retry x1)",
// and the first attempt's error is lost: this prints it, so a flake can be diagnosed from the CI log
// instead of reproduced.
import type { Reporter, TestCase } from 'vitest/node'

export default class RetryReporter implements Reporter {
  onTestCaseResult(test: TestCase): void {
    const result = test.result()
    if (result.state !== 'passed' || !result.errors?.length) return
    const lines = result.errors.map((e) => `  ${(e.stack ?? e.message ?? String(e)).split('\n').slice(0, 8).join('\n  ')}`)
    process.stderr.write(`\n[retried] ${test.module.moduleId.replace(process.cwd() + '/', '')} > ${test.fullName}: passed after ${result.errors.length} failed attempt(s)\n${lines.join('\n')}\n`)
  }
}
