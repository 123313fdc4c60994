import { execFileSync, spawnSync } from 'node:child_process'

/**
 * Prometheus text parsing by the official Python client's parser (`prometheus_client.parser`, Debian's
 * python3-prometheus-client, which .ci/run installs): an independent, strict reader of the exposition format, so
 * the test does not trust prom-client to check its own output.
 */
const PYTHON = '/usr/bin/python3'
const SCRIPT = `
import json, sys
from prometheus_client.parser import text_string_to_metric_families
families = []
for family in text_string_to_metric_families(sys.stdin.read()):
    families.append({"name": family.name, "type": family.type, "samples": [{"name": s.name, "labels": s.labels, "value": s.value} for s in family.samples]})
print(json.dumps(families))
`

export interface ParsedFamily {
  readonly name: string
  readonly type: string
  readonly samples: ReadonlyArray<{ readonly name: string; readonly labels: Readonly<Record<string, string>>; readonly value: number }>
}

/** Why the parser cannot run here, or undefined when it can. */
export function prometheusParserMissing(): string | undefined {
  const probe = spawnSync(PYTHON, ['-c', 'import prometheus_client.parser'], { encoding: 'utf8' })
  return probe.status === 0 ? undefined : `${PYTHON} with prometheus_client is not installed (apt-get install python3-prometheus-client)`
}

/** Parses an exposition; throws (with the parser's message) when it is not valid Prometheus text. */
export function parsePrometheusText(text: string): ParsedFamily[] {
  return JSON.parse(execFileSync(PYTHON, ['-c', SCRIPT], { input: text, encoding: 'utf8' })) as ParsedFamily[]
}

/** The value of the sample `name` with exactly `labels`, or undefined. */
export function sampleOf(families: readonly ParsedFamily[], name: string, labels: Record<string, string> = {}): number | undefined {
  const key = JSON.stringify(Object.entries(labels).sort())
  for (const family of families) {
    for (const sample of family.samples) {
      if (sample.name === name && JSON.stringify(Object.entries(sample.labels).sort()) === key) return sample.value
    }
  }
  return undefined
}
