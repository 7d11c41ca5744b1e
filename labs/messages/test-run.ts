/**
 * For tests: runs a sequence of client frames against a real lab server exactly as the lab does
 * in the browser (the /raw relay, /observe?id=N, LabRun deciding what to send), with `ws` as the
 * browser's WebSocket. Returns the annotations the lab server sent for that connection, as the
 * JSON the browser receives.
 */
import { WebSocket } from 'ws';
import { generateKey } from '../../protocol/accept.ts';
import type { LabEvent } from '../../protocol/annotations.ts';
import { parseObserverMessage } from '../console/model.ts';
import { LabRun, type RunAction } from './relay.ts';

export interface RunResult {
  readonly conn: number;
  readonly events: readonly LabEvent[];
  readonly run: LabRun;
}

/**
 * `until` says when the run has shown enough (for example: a server close frame, or an echo);
 * the connection is then closed.
 */
export function runAgainstLab(
  port: number,
  frames: readonly Uint8Array[],
  until: (events: readonly LabEvent[]) => boolean,
  timeoutMs = 3000,
): Promise<RunResult> {
  const origin = `http://127.0.0.1:${port}`;
  const run = new LabRun({ host: `127.0.0.1:${port}`, key: generateKey(), frames });
  const relay = new WebSocket(`ws://127.0.0.1:${port}/raw`, { origin });
  let observer: WebSocket | null = null;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      finish();
      reject(
        new Error(
          `timed out in phase ${run.phase}; events: ${run.events.map((e) => e.type).join(', ')}`,
        ),
      );
    }, timeoutMs);
    const finish = () => {
      clearTimeout(timer);
      observer?.close();
      relay.close();
    };
    const check = () => {
      if (run.conn !== null && until(run.events)) {
        finish();
        resolve({ conn: run.conn, events: run.events, run });
      }
    };
    const perform = (actions: readonly RunAction[]) => {
      for (const action of actions) {
        if (action.type === 'send') relay.send(action.bytes);
        else if (action.type === 'observe') {
          observer = new WebSocket(`ws://127.0.0.1:${port}/observe?id=${action.conn}`, { origin });
          observer.on('message', (data) => {
            const parsed = parseObserverMessage(data.toString());
            if (parsed === null) return;
            if (parsed.type === 'snapshot') perform(run.observerReady());
            else {
              perform(run.event(parsed));
              check();
            }
          });
        }
      }
    };
    relay.on('message', (data, isBinary) => {
      if (!isBinary) perform(run.relayStatus(data.toString()));
    });
    relay.on('error', (error) => {
      finish();
      reject(error);
    });
  });
}

export const serverClosed = (events: readonly LabEvent[]) =>
  events.some((e) => e.type === 'close-frame' && e.direction === 'server-to-client');

export const socketClosed = (events: readonly LabEvent[]) =>
  events.some((e) => e.type === 'socket-closed');
