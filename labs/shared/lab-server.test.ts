import { describe, expect, it } from 'vitest';
import {
  DEFAULT_LAB_SERVER,
  labServerCandidates,
  START_COMMAND,
  unavailableMessage,
  webSocketUrl,
} from './lab-server.ts';

describe('labServerCandidates', () => {
  it('tries the page origin first, since the lab server serves the site', () => {
    expect(labServerCandidates({ protocol: 'http:', host: '127.0.0.1:40123' })).toEqual([
      'http://127.0.0.1:40123',
      DEFAULT_LAB_SERVER,
    ]);
  });

  it('does not try the default address twice when the page comes from it', () => {
    expect(labServerCandidates({ protocol: 'http:', host: '127.0.0.1:6455' })).toEqual([
      DEFAULT_LAB_SERVER,
    ]);
  });

  it('falls back to the default address for a page opened from a file', () => {
    expect(labServerCandidates({ protocol: 'file:', host: '' })).toEqual([DEFAULT_LAB_SERVER]);
  });

  it('takes another default address', () => {
    expect(
      labServerCandidates({ protocol: 'http:', host: 'localhost:4321' }, 'http://127.0.0.1:7000/'),
    ).toEqual(['http://localhost:4321', 'http://127.0.0.1:7000']);
  });
});

describe('webSocketUrl', () => {
  it('maps http to ws and https to wss, keeping path and query', () => {
    expect(webSocketUrl('http://127.0.0.1:6455', '/echo?console=ab12')).toBe(
      'ws://127.0.0.1:6455/echo?console=ab12',
    );
    expect(webSocketUrl('https://lab.example:8443', '/observe?id=3')).toBe(
      'wss://lab.example:8443/observe?id=3',
    );
  });
});

describe('unavailableMessage', () => {
  it('says plainly that the lab server is not running and how to start it', () => {
    const message = unavailableMessage(['ws://127.0.0.1:6455/observe'], {
      protocol: 'http:',
      host: '127.0.0.1:6455',
    });
    expect(message.title).toBe(
      `The lab server is not running. Start it with \`${START_COMMAND}\` and reload.`,
    );
    expect(message.details[0]).toBe('Tried ws://127.0.0.1:6455/observe: no answer.');
    expect(message.details.join(' ')).not.toContain('open this page from it');
  });

  it('suggests opening the page from the lab server when it came from elsewhere', () => {
    const message = unavailableMessage(
      ['ws://localhost:4321/observe', 'ws://127.0.0.1:6455/observe'],
      { protocol: 'http:', host: 'localhost:4321' },
    );
    expect(message.details[0]).toBe(
      'Tried ws://localhost:4321/observe and ws://127.0.0.1:6455/observe: no answer.',
    );
    expect(message.details.at(-1)).toContain('open this page from it instead');
    expect(message.details.at(-1)).toContain('`pnpm lab --origin http://localhost:4321`');
    expect(message.details.at(-1)).toContain('RFC 6455 §10.2');
  });
});
