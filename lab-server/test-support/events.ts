import type { LabEvent, LabEventType } from '../../protocol/annotations.ts';
import type { Registry } from '../registry.ts';
import { eventually } from './lab.ts';

export type EventOf<T extends LabEventType> = Extract<LabEvent, { type: T }>;

/** Every event the registry emits from now on, kept in order. */
export class EventLog {
  readonly events: LabEvent[] = [];
  readonly #unsubscribe: () => void;

  constructor(registry: Registry) {
    this.#unsubscribe = registry.subscribe((event) => this.events.push(event));
  }

  of<T extends LabEventType>(type: T, conn?: number): EventOf<T>[] {
    return this.events.filter(
      (event): event is EventOf<T> =>
        event.type === type && (conn === undefined || event.conn === conn),
    );
  }

  /** The conn number of the connection from this client port, once it was opened. */
  async connOf(clientPort: number, timeoutMs = 2000): Promise<number> {
    const opened = await this.waitFor(
      'connection-opened',
      (event) => event.client.port === clientPort,
      timeoutMs,
    );
    return opened.conn;
  }

  forConn(conn: number): LabEvent[] {
    return this.events.filter((event) => event.conn === conn);
  }

  async waitFor<T extends LabEventType>(
    type: T,
    match: (event: EventOf<T>) => boolean = () => true,
    timeoutMs = 2000,
  ): Promise<EventOf<T>> {
    await eventually(() => this.of(type).some(match), `a ${type} event`, timeoutMs);
    return this.of(type).find(match) as EventOf<T>;
  }

  dispose(): void {
    this.#unsubscribe();
  }
}
