// Which container serves, on which port and protocol.
import { DEFAULT_USER_PORT, type Container, type RevisionSpec } from './serving.ts';

/** The only container, or the one that declares a port. */
export function servingContainerOf(spec: RevisionSpec): Container | undefined {
  return spec.containers.length === 1 ? spec.containers[0] : spec.containers.find((c) => (c.ports?.length ?? 0) > 0);
}

/** The serving port; a port given only by name (containerPort 0, as Go writes it) means the default. */
export const userPort = (container: Container | undefined): number =>
  container?.ports?.[0]?.containerPort || DEFAULT_USER_PORT;

/** A port named h2c makes the revision speak HTTP/2 without TLS end to end. */
export const servingProtocol = (container: Container | undefined): 'http1' | 'h2c' =>
  container?.ports?.[0]?.name === 'h2c' ? 'h2c' : 'http1';
