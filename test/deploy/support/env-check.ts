import type { VariableName } from '@chorus/config';
import { readsVariable, requiredVariables, valueProblem, type ServiceRole } from './chorus-app';

/** One variable as a container will see it: its value when the files say it (not for a downward-API field). */
export interface ResolvedVariable {
  readonly value?: string;
  /** Where it comes from, for messages: "env", "ConfigMap chorus-common", "Secret chorus-secrets"… */
  readonly from: string;
}

/**
 * The cross-check shared by Kubernetes and compose: every variable given to a process is one its role reads
 * (a typo or a variable meant for another app is a problem), every known value passes the app's own parser,
 * and every variable the role requires is there.
 */
export function envProblems(where: string, role: ServiceRole, env: ReadonlyMap<string, ResolvedVariable>): string[] {
  const problems: string[] = [];
  for (const [name, v] of env) {
    if (!readsVariable(role, name)) {
      problems.push(`${where}: sets ${name} (from ${v.from}), which ${role} does not read (libs/config/src/variables.ts)`);
      continue;
    }
    if (v.value === undefined) continue;
    const problem = valueProblem(role, name as VariableName, v.value);
    if (problem) problems.push(`${where}: ${name} (from ${v.from}) ${problem}`);
  }
  for (const name of requiredVariables(role)) {
    if (!env.has(name)) problems.push(`${where}: ${role} requires ${name}, which is not set`);
  }
  return problems;
}
