/**
 * One attack in a process of its own (started by `startAttack` in flood-clients.ts): the first message
 * is its AttackSpec, the second stops it; the answer is its AttackStats.
 */
import { Attack, type AttackSpec } from "./flood-clients.js";

process.once("message", (spec: AttackSpec) => {
  const attack = new Attack(spec);
  process.once("message", () => {
    attack.stop();
    process.send?.(attack.stats, () => process.disconnect());
  });
});
