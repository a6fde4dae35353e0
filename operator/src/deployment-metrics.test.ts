import type { V1Deployment } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { aPixtralDeployment } from '../../test/fixtures/pixtral-deployment.ts';
import type { PixtralDeployment } from './api/pixtral-deployment.ts';
import {
  deploymentMetricsPieces,
  deploymentMetricsText,
  registerDeploymentMetrics,
} from './deployment-metrics.ts';
import { RuntimeMetrics } from './runtime/metrics.ts';

function withStatus(status: PixtralDeployment['status'], name = 'vision'): PixtralDeployment {
  return { ...aPixtralDeployment({ minSize: 1, maxSize: 3 }, { name }), status };
}

const readyStatus: PixtralDeployment['status'] = {
  phase: 'Ready',
  readyReplicas: 2,
  conditions: [
    {
      type: 'Ready',
      status: 'True',
      reason: 'DeploymentReady',
      message: '',
      lastTransitionTime: '2026-12-01T00:00:00Z',
    },
  ],
  weights: { attempts: 0 },
};

/** The series of `metric` in `text`, as `labels after the id` -> value. */
function series(text: string, metric: string): Record<string, number> {
  const found: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const match = line.match(/^pixtral_deployment_(\w+)\{namespace="[^"]*",name="[^"]*",?(.*)\} (\S+)$/);
    if (match?.[1] === metric) found[match[2] ?? ''] = Number(match[3]);
  }
  return found;
}

describe('deploymentMetricsText', () => {
  it('sets the current phase to 1 and every other phase to 0', () => {
    expect(
      series(
        deploymentMetricsText([withStatus(readyStatus)], () => undefined),
        'status_phase',
      ),
    ).toEqual({
      'phase="Creating"': 0,
      'phase="ProvisioningWeights"': 0,
      'phase="Deploying"': 0,
      'phase="Ready"': 1,
      'phase="Error"': 0,
      'phase="Deleting"': 0,
    });
  });

  it('gives each condition one series per status value, 1 for the one it has', () => {
    expect(
      series(
        deploymentMetricsText([withStatus(readyStatus)], () => undefined),
        'status_condition',
      ),
    ).toEqual({
      'type="Ready",status="True"': 1,
      'type="Ready",status="False"': 0,
      'type="Ready",status="Unknown"': 0,
    });
  });

  it('reads desired replicas from the serving Deployment (KEDA owns it), else minSize', () => {
    const cr = withStatus(readyStatus);
    const desired = (workload: V1Deployment | undefined) =>
      series(
        deploymentMetricsText([cr], () => workload),
        'replicas_desired',
      )[''];
    expect(desired({ spec: { replicas: 3 } } as V1Deployment)).toBe(3);
    expect(desired(undefined)).toBe(1);
  });

  it('exports a fresh resource (no status yet) without failing', () => {
    const text = deploymentMetricsText([withStatus(undefined)], () => undefined);
    expect(series(text, 'replicas_ready')).toEqual({ '': 0 });
    expect(Object.values(series(text, 'status_phase'))).toEqual([0, 0, 0, 0, 0, 0]);
  });

  it('prints each gauge once with its help and type, its series together', () => {
    const text = deploymentMetricsText(
      [withStatus(readyStatus), withStatus(readyStatus, 'other')],
      () => undefined,
    );
    const names = text
      .split('\n')
      .filter((line) => line.startsWith('# TYPE'))
      .map((line) => line.split(' ')[2]);
    expect(names).toEqual([
      'pixtral_deployment_info',
      'pixtral_deployment_status_phase',
      'pixtral_deployment_status_condition',
      'pixtral_deployment_replicas_ready',
      'pixtral_deployment_replicas_desired',
      'pixtral_deployment_weights_failed_attempts',
    ]);
    expect(text.endsWith('} 0\n')).toBe(true);
  });
});

describe('deploymentMetricsPieces', () => {
  it('prints the text in pieces of about 500 lines, each ending in a newline, that add up to the whole', () => {
    const crs = Array.from({ length: 200 }, (_, i) => withStatus(readyStatus, `vision-${i}`));
    const pieces = [...deploymentMetricsPieces(crs, () => undefined)];
    for (const piece of pieces) {
      expect(piece.endsWith('\n')).toBe(true);
      // A piece ends after the deployment that reached 500 lines: at most 6 more here (its phases).
      expect(piece.split('\n').length - 1).toBeLessThanOrEqual(500 + 6);
    }
    // 200 deployments with 6 phases each are 1,200 lines of that gauge alone: three pieces.
    expect(pieces.filter((p) => p.includes('pixtral_deployment_status_phase{'))).toHaveLength(3);
    const text = pieces.join('');
    expect(text.match(/^pixtral_deployment_info\{/gm)).toHaveLength(200);
    expect(text.match(/^pixtral_deployment_status_phase\{/gm)).toHaveLength(1200);
  });
});

describe('registerDeploymentMetrics', () => {
  it('reads the caches at each scrape and forgets deleted resources', async () => {
    const metrics = new RuntimeMetrics();
    let crs = [withStatus(readyStatus), withStatus({ phase: 'Error', weights: { attempts: 3 } }, 'broken')];
    registerDeploymentMetrics(metrics, {
      pixtralDeployments: { list: () => crs },
      deployments: { get: () => undefined },
    });
    const first = await metrics.exposition();
    expect(first).toContain('pixtral_deployment_replicas_ready{namespace="team-a",name="vision"} 2');
    expect(first).toContain('pixtral_deployment_weights_failed_attempts{namespace="team-a",name="broken"} 3');
    expect(first).toContain(
      'pixtral_deployment_status_phase{namespace="team-a",name="broken",phase="Error"} 1',
    );
    crs = crs.slice(0, 1);
    const second = await metrics.exposition();
    expect(second).not.toContain('name="broken"');
  });

  it("follows each change: a new version of the resource, its Deployment's replicas", async () => {
    const metrics = new RuntimeMetrics();
    let cr = withStatus({ phase: 'Deploying', readyReplicas: 0 });
    let workload = { spec: { replicas: 1 } } as V1Deployment;
    registerDeploymentMetrics(metrics, {
      pixtralDeployments: { list: () => [cr] },
      deployments: { get: () => workload },
    });
    expect(await metrics.exposition()).toContain('{namespace="team-a",name="vision",phase="Deploying"} 1');
    workload = { spec: { replicas: 3 } } as V1Deployment;
    expect(await metrics.exposition()).toContain(
      'pixtral_deployment_replicas_desired{namespace="team-a",name="vision"} 3',
    );
    cr = withStatus(readyStatus);
    const text = await metrics.exposition();
    expect(text).toContain('{namespace="team-a",name="vision",phase="Deploying"} 0');
    expect(text).toContain('{namespace="team-a",name="vision",phase="Ready"} 1');
    expect(text).toContain('pixtral_deployment_replicas_desired{namespace="team-a",name="vision"} 3');
  });

  it('escapes label values as the text format wants', async () => {
    const metrics = new RuntimeMetrics();
    const cr = withStatus(readyStatus);
    cr.spec.model = 'a "quoted" \\ model';
    registerDeploymentMetrics(metrics, {
      pixtralDeployments: { list: () => [cr] },
      deployments: { get: () => undefined },
    });
    expect(await metrics.exposition()).toContain('model="a \\"quoted\\" \\\\ model"');
  });
});
