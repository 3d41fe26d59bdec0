/**
 * One attack in a process of its own (started by `startAttack` in flood-clients.ts): the first message
 * is its AttackSpec, answered once the attack is established, after which the process lowers its
 * priority to the lowest; the second message stops it, answered with its AttackStats.
 */
import { setPriority } from "node:os";
import { Attack, type AttackSpec } from "./flood-clients.js";

process.once("message", (spec: AttackSpec) => {
  const attack = new Attack(spec, () => {
    setPriority(19);
    process.send?.("established");
  });
  process.once("message", () => {
    attack.stop();
    process.send?.(attack.stats, () => process.disconnect());
  });
});
