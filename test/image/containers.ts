/**
 * The project's locally built images in containers, through testcontainers: a container hardened
 * as the chart's pods are (non-root, read-only root filesystem, no capabilities, no privilege
 * escalation), ports published on 127.0.0.1 only, images taken from the local Docker and never
 * pulled, the container's output kept for the failure message, and every container and network
 * removed by its test (and by the next run when a test process was killed).
 */
import { PassThrough } from 'node:stream';
import { finished } from 'node:stream/promises';
import {
  GenericContainer,
  getContainerRuntimeClient,
  ImageName,
  Network,
  PullPolicy,
  type StartedNetwork,
  type StartedTestContainer,
  type WaitStrategy,
} from 'testcontainers';

// Ryuk, testcontainers' reaper, is an image, and nothing can be pulled here (nor in CI). Each test
// removes its own containers and networks instead; leftovers of a killed test process are swept
// below. testcontainers reads this variable when the first container starts, not at import.
process.env.TESTCONTAINERS_RYUK_DISABLED = 'true';
// Ports are published on 127.0.0.1 only (below). testcontainers would otherwise wait on the
// default bridge's gateway whenever /.dockerenv exists, as it does on CI machines that are
// themselves containers with a Docker daemon of their own.
process.env.TESTCONTAINERS_HOST_OVERRIDE = '127.0.0.1';

/** The uid:gid every container of the project's pods runs as (the images' USER, the chart's runAsUser). */
export const POD_USER = '65532:65532';

/** Labels a container with the process that started it, so a later run can sweep it once that process is gone. */
const OWNER_LABEL = 'org.pixtral-operator.test-owner-pid';
/** Network names: testcontainers' networks take no labels, so the owner's pid goes into the name. */
const NETWORK_PREFIX = 'pxd-test-';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but is someone else's.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

let swept: Promise<void> | undefined;
/**
 * Removes the containers and networks of test processes that no longer run (killed before their
 * afterAll): the job Ryuk would do, once per process, before its first container.
 */
export function sweepLeftovers(): Promise<void> {
  swept ??= (async () => {
    const { dockerode } = (await getContainerRuntimeClient()).container;
    const containers = await dockerode.listContainers({ all: true, filters: { label: [OWNER_LABEL] } });
    for (const info of containers) {
      const owner = Number(info.Labels[OWNER_LABEL]);
      if (!alive(owner))
        await dockerode
          .getContainer(info.Id)
          .remove({ force: true, v: true })
          .catch(() => {});
    }
    for (const info of await dockerode.listNetworks({ filters: { name: [NETWORK_PREFIX] } })) {
      const owner = Number(/^pxd-test-(\d+)-/.exec(info.Name)?.[1]);
      if (owner && !alive(owner))
        await dockerode
          .getNetwork(info.Id)
          .remove()
          .catch(() => {});
    }
  })();
  return swept;
}

/** Throws, saying how to build it, when `image` is not in the local Docker (it would otherwise be pulled). */
export async function requireLocalImage(image: string): Promise<void> {
  const client = await getContainerRuntimeClient();
  if (!(await client.image.exists(ImageName.fromString(image))))
    throw new Error(
      `image ${image} is not in the local Docker and nothing can be pulled: build it with scripts/build-images.sh (npm run images)`,
    );
}

/** A started container with what it wrote and a stop that reports how it ended. */
export interface Running {
  /** testcontainers' handle: mapped ports, exec, ... */
  container: StartedTestContainer;
  /** Everything the container wrote so far, stdout and stderr interleaved. */
  output(): string;
  /** `http://127.0.0.1:<published port>` of a container port. */
  url(port: number): string;
  /**
   * Stops the container (SIGTERM, SIGKILL after `graceMs`), removes it and returns its exit
   * code, with its output complete. Safe to call again (cleanup after a test's own stop).
   */
  stop(graceMs?: number): Promise<number>;
}

/** A finished one-shot container, as `docker run --rm` reports it. */
export interface Finished {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/**
 * Ready once the container's process has exited, whatever its exit code (which the test checks).
 * testcontainers' own one-shot check fails on a non-zero exit and polls once a second; Docker's
 * wait answers the moment the process ends.
 */
class UntilExited implements WaitStrategy {
  #timeoutMs = 45_000;
  #timeoutSet = false;

  async waitUntilReady(container: Parameters<WaitStrategy['waitUntilReady']>[0]): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`container ${container.id} did not exit within ${this.#timeoutMs} ms`)),
        this.#timeoutMs,
      );
    });
    try {
      await Promise.race([container.wait(), late]);
    } finally {
      clearTimeout(timer);
    }
  }

  withStartupTimeout(startupTimeoutMs: number): this {
    this.#timeoutMs = startupTimeoutMs;
    this.#timeoutSet = true;
    return this;
  }

  isStartupTimeoutSet(): boolean {
    return this.#timeoutSet;
  }

  getStartupTimeout(): number {
    return this.#timeoutMs;
  }
}

/**
 * testcontainers' GenericContainer with what its builder leaves out: the pod's read-only root
 * filesystem, ports published on 127.0.0.1 rather than every address, the image required to be
 * local, the owner label for the sweep, and the output kept for failure messages.
 */
export class ProjectContainer extends GenericContainer {
  #readOnlyRoot = false;
  #output: string[] = [];
  #outputEnded: Promise<unknown> = Promise.resolve();

  constructor(image: string) {
    super(image);
    this.withPullPolicy(PullPolicy.neverPull())
      .withLabels({ [OWNER_LABEL]: String(process.pid) })
      .withLogConsumer((stream) => {
        stream.on('data', (chunk: Buffer | string) => this.#output.push(chunk.toString()));
        this.#outputEnded = finished(stream).catch(() => {});
      });
  }

  /**
   * The chart's `readOnlyRootFilesystem: true`. Files then come in through bind mounts, as the
   * kubelet mounts Secrets and ConfigMaps: Docker refuses to copy into a read-only root.
   */
  withReadOnlyRootFilesystem(): this {
    this.#readOnlyRoot = true;
    return this;
  }

  /** What the container wrote so far, stdout and stderr interleaved. */
  output(): string {
    return this.#output.join('');
  }

  protected override async beforeContainerCreated(): Promise<void> {
    this.hostConfig.ReadonlyRootfs = this.#readOnlyRoot;
    for (const bindings of Object.values(this.hostConfig.PortBindings ?? {}))
      for (const binding of bindings as Array<{ HostIp?: string }>) binding.HostIp = '127.0.0.1';
  }

  /**
   * Starts the container and waits for its wait strategy; when that fails (testcontainers then
   * removes the container), the error carries what the container wrote.
   */
  async run(): Promise<Running> {
    await requireLocalImage(this.imageName.string);
    await sweepLeftovers();
    let started: StartedTestContainer;
    try {
      started = await this.start();
    } catch (error) {
      await this.#outputEnded;
      throw new Error(`${(error as Error).message}\n${this.imageName.string} wrote:\n${this.output()}`, {
        cause: error,
      });
    }
    let exitCode: Promise<number> | undefined;
    return {
      container: started,
      output: () => this.output(),
      url: (port) => `http://127.0.0.1:${started.getMappedPort(port)}`,
      stop: (graceMs = 0) => {
        exitCode ??= (async () => {
          const client = await getContainerRuntimeClient();
          const container = client.container.getById(started.getId());
          try {
            await started.stop({ timeout: graceMs, remove: false });
            await this.#outputEnded;
            return (await client.container.inspect(container)).State.ExitCode;
          } finally {
            await client.container.remove(container, { removeVolumes: true });
          }
        })();
        return exitCode;
      },
    };
  }

  /**
   * Runs the container to its end, like `docker run --rm`: exit code, stdout and stderr apart.
   * The timeout stays under the test's, so testcontainers removes a hung container itself.
   */
  async runToEnd(timeoutMs = 45_000): Promise<Finished> {
    this.withWaitStrategy(new UntilExited()).withStartupTimeout(timeoutMs);
    const running = await this.run();
    try {
      const { dockerode } = (await getContainerRuntimeClient()).container;
      const logs = await dockerode.getContainer(running.container.getId()).logs({
        follow: true,
        stdout: true,
        stderr: true,
      });
      const stdout = new PassThrough();
      const stderr = new PassThrough();
      const text = { stdout: '', stderr: '' };
      stdout.on('data', (chunk: Buffer) => {
        text.stdout += chunk.toString();
      });
      stderr.on('data', (chunk: Buffer) => {
        text.stderr += chunk.toString();
      });
      // Without a TTY Docker multiplexes both streams into one; its client splits them again.
      dockerode.modem.demuxStream(logs, stdout, stderr);
      await finished(logs as NodeJS.ReadableStream & NodeJS.EventEmitter);
      return { exitCode: await running.stop(), ...text };
    } finally {
      await running.stop();
    }
  }
}

/** A container of a locally built image, hardened as the chart's pods run it. */
export function podLikeContainer(image: string): ProjectContainer {
  return new ProjectContainer(image)
    .withUser(POD_USER)
    .withReadOnlyRootFilesystem()
    .withDroppedCapabilities('ALL')
    .withSecurityOpt('no-new-privileges');
}

/** A bridge network of its own, and the host's address on it (where the test's own servers listen for its containers). */
export interface TestNetwork {
  network: StartedNetwork;
  hostAddress: string;
  stop(): Promise<void>;
}

/** Starts a Docker bridge network for one test file; `stop()` removes it. */
export async function startNetwork(): Promise<TestNetwork> {
  await sweepLeftovers();
  const name = `${NETWORK_PREFIX}${process.pid}-${Math.random().toString(36).slice(2, 10)}`;
  const network = await new Network({ nextUuid: () => name }).start();
  const { dockerode } = (await getContainerRuntimeClient()).container;
  const info = await dockerode.getNetwork(network.getId()).inspect();
  const hostAddress: string | undefined = info.IPAM?.Config?.[0]?.Gateway;
  if (!hostAddress) {
    await network.stop();
    throw new Error(`docker network ${name} has no gateway address: ${JSON.stringify(info.IPAM)}`);
  }
  return { network, hostAddress, stop: async () => void (await network.stop()) };
}
