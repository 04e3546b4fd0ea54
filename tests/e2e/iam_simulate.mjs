// Evaluate AWS requests against IAM policies with @cloud-copilot/iam-simulate.
// Called by tests/e2e/iam_audit.py: stdin is a JSON list of simulations in the library's
// format; stdout a JSON list, one entry per simulation: {result, errors, decisive}.
import { runSimulation } from '@cloud-copilot/iam-simulate'

const chunks = []
for await (const chunk of process.stdin) chunks.push(chunk)
const simulations = JSON.parse(Buffer.concat(chunks).toString('utf8'))
const answers = []
for (const simulation of simulations) {
  const response = await runSimulation(simulation, {})
  if (response.resultType === 'error') {
    answers.push({ result: 'Error', errors: response.errors, decisive: [] })
    continue
  }
  const result = response.resultType === 'single' ? response.result : response.results[0]
  const analysis = result?.analysis ?? {}
  const decisive = []
  for (const [where, part] of Object.entries(analysis)) {
    if (part && typeof part === 'object' && Array.isArray(part.denyStatements)) {
      for (const statement of part.denyStatements) {
        decisive.push(`${where}: Deny ${statement.identifier ?? ''}`.trim())
      }
    }
  }
  answers.push({ result: response.overallResult, errors: null, decisive })
}
process.stdout.write(JSON.stringify(answers))
