/**
 * The two conditions kstatus reads (sigs.k8s.io/cli-utils/pkg/kstatus, used by Flux's health
 * checks and `wait`): `Reconciling` and `Stalled`, derived from Progressing and Degraded so they
 * never disagree with them. With them, a PixtralDeployment is InProgress while it provisions and
 * rolls out, Failed while something needs a human, and Current once it serves; observedGeneration
 * (set on the status and on every condition) tells both apart from a stale status.
 */
import {
  type Condition,
  ConditionType,
  type ConditionUpdate,
  Reason,
  setCondition,
} from '../api/conditions.ts';

/** `conditions` with Reconciling and Stalled set from Progressing and Degraded. Pure. */
export function withKstatusConditions(
  conditions: readonly Condition[],
  generation: number,
  now: Date,
): Condition[] {
  const find = (type: string) => conditions.find((c) => c.type === type);
  const degraded = find(ConditionType.Degraded);
  const progressing = find(ConditionType.Progressing);
  const stalled = degraded?.status === 'True' ? degraded : undefined;
  const reconciling = stalled === undefined && progressing?.status === 'True' ? progressing : undefined;
  const stalledUpdate: ConditionUpdate = stalled
    ? { type: ConditionType.Stalled, status: 'True', reason: stalled.reason, message: stalled.message }
    : {
        type: ConditionType.Stalled,
        status: 'False',
        reason: Reason.AsExpected,
        message: 'Nothing needs attention',
      };
  let reconcilingUpdate: ConditionUpdate;
  if (reconciling)
    reconcilingUpdate = {
      type: ConditionType.Reconciling,
      status: 'True',
      reason: reconciling.reason,
      message: reconciling.message,
    };
  else if (stalled)
    reconcilingUpdate = {
      type: ConditionType.Reconciling,
      status: 'False',
      reason: stalled.reason,
      message: 'Stalled until the problem in the Stalled condition is fixed',
    };
  else
    reconcilingUpdate = {
      type: ConditionType.Reconciling,
      status: 'False',
      reason: progressing?.reason ?? Reason.AsExpected,
      message: progressing?.message ?? 'Nothing to do',
    };
  const withStalled = setCondition(conditions, { ...stalledUpdate, observedGeneration: generation }, now);
  return setCondition(withStalled, { ...reconcilingUpdate, observedGeneration: generation }, now);
}
