/**
 * What the realnode tests give the operator configuration: the locally built images (loaded into
 * the node's containerd under Docker's default registry names) and resources a 2-core machine has.
 */
import type { OperatorConfigInput } from '../../operator/src/config.ts';

/** The tag `buildImage` gives the realnode tests' images. */
export const TAG = 'realnode';

/** `images`: the runtime image (sidecar, provisioner) and the vLLM stand-in in place of vLLM's. */
export const localImages = {
  runtime: `docker.io/library/pixtral-runtime:${TAG}`,
  vllm: `docker.io/library/pixtral-vllm-standin:${TAG}`,
} satisfies OperatorConfigInput['images'];

/** `resources`: the defaults ask for 8 CPUs and 64 GiB for vLLM. */
export const smallResources = {
  vllm: { requests: { cpu: '100m', memory: '256Mi' }, limits: { memory: '1Gi' } },
  sidecar: { requests: { cpu: '100m', memory: '256Mi' }, limits: { memory: '1Gi' } },
} satisfies OperatorConfigInput['resources'];
