/**
 * The student's classroom page (`/classroom/`): join with the code and a display name, or see
 * which class this browser is in, as whom, and which chapters are open. Every name and reason
 * from the server is set as text.
 */
import { h } from '../shared/dom.ts';
import { renderUnavailable } from '../shared/lab-server.ts';
import { type ClassroomClient, classroomClient } from './client.ts';
import { NAME_MAX_CHARS, normaliseJoinCode } from './protocol.ts';
import { codeFromHash, joinFormProblems, type StudentPhase } from './student.ts';

export interface ChapterLink {
  readonly id: string;
  readonly title: string;
  readonly href: string;
}

export interface JoinMounted {
  dispose(): void;
}

export function mountJoin(
  element: HTMLElement,
  chapters: readonly ChapterLink[],
  client: ClassroomClient = classroomClient(),
): JoinMounted {
  let typedCode = codeFromHash(location.hash) ?? '';
  let typedName = client.remembered?.name ?? '';
  const status = h('div', { class: 'cls-status', role: 'status', 'aria-live': 'polite' });
  const body = h('div', { class: 'cls-body' });
  element.replaceChildren(status, body);

  const render = (phase: StudentPhase) => {
    status.replaceChildren();
    body.replaceChildren();
    switch (phase.phase) {
      case 'checking':
        status.textContent = 'Looking for the lab server…';
        return;
      case 'unreachable':
        body.append(
          renderUnavailable(
            {
              title: 'The lab server is not running, or this page cannot reach it.',
              details: [
                'Joining a class needs your teacher’s lab server: open the address your teacher shows (it ends in `/classroom/`), from the same network.',
                'A teacher starts a class with `pnpm lab --classroom --host 0.0.0.0`.',
              ],
            },
            () => client.retry(),
            'cls-missing',
          ),
        );
        return;
      case 'off': {
        const remembered = client.remembered;
        body.append(
          h(
            'div',
            { class: 'cls-off', role: 'alert' },
            h('p', { class: 'cls-off-title' }, 'Classroom mode is off.'),
            h(
              'p',
              {},
              'The lab server serving this page runs without a class, so there is nothing to join: every exercise is checked in your browser, and your progress stays in it. A teacher starts a class with ',
              h('code', {}, 'pnpm lab --classroom'),
              '.',
            ),
            remembered === null
              ? null
              : leaveButton(client, `Forget the class “${remembered.className}”`),
            retryButton(client),
          ),
        );
        return;
      }
      case 'connecting':
      case 'resuming':
        status.textContent =
          phase.phase === 'resuming' ? 'Rejoining your class…' : 'Connecting to the class…';
        return;
      case 'lost':
        status.textContent = `${phase.reason} Reconnecting…`;
        return;
      case 'form':
      case 'joining':
        body.append(joinForm(phase));
        return;
      case 'joined': {
        const { session } = phase;
        body.append(
          h(
            'div',
            { class: 'cls-joined' },
            h(
              'p',
              { class: 'cls-joined-title' },
              'You are in class ',
              h('strong', {}, session.className),
              ' as ',
              h('strong', { class: 'cls-name' }, session.name),
              '.',
            ),
            h(
              'p',
              {},
              'Do the exercises in the chapters: your teacher’s lab server checks your answers and your teacher sees your progress. Your place is kept in this browser, so you can close the page and come back.',
            ),
            h('h2', { class: 'cls-chapters-title' }, 'Chapters'),
            h(
              'ul',
              { class: 'cls-chapters' },
              ...chapters.map((chapter) => {
                const state = phase.chapters[chapter.id as keyof typeof phase.chapters];
                const locked = state === 'locked';
                return h(
                  'li',
                  { 'data-state': locked ? 'locked' : 'open' },
                  h('a', { href: chapter.href }, chapter.title),
                  ' ',
                  h(
                    'span',
                    { class: 'cls-chapter-state' },
                    locked ? '(locked by your teacher)' : '(open)',
                  ),
                );
              }),
            ),
            leaveButton(client, 'Leave the class'),
          ),
        );
        return;
      }
    }
  };

  const joinForm = (phase: Extract<StudentPhase, { phase: 'form' | 'joining' }>) => {
    const code = h('input', {
      id: 'cls-code',
      name: 'code',
      class: 'cls-input cls-code',
      type: 'text',
      autocomplete: 'off',
      autocapitalize: 'characters',
      spellcheck: 'false',
      maxlength: 16,
      'aria-describedby': 'cls-code-help cls-code-error',
    });
    code.value = typedCode;
    const name = h('input', {
      id: 'cls-name',
      name: 'name',
      class: 'cls-input',
      type: 'text',
      autocomplete: 'nickname',
      maxlength: NAME_MAX_CHARS * 2,
      'aria-describedby': 'cls-name-help cls-name-error',
    });
    name.value = typedName;
    const codeError = h('p', { class: 'cls-error', id: 'cls-code-error' });
    const nameError = h('p', { class: 'cls-error', id: 'cls-name-error' });
    const join = h(
      'button',
      { type: 'submit', class: 'cls-button', disabled: phase.phase === 'joining' },
      phase.phase === 'joining' ? 'Joining…' : 'Join the class',
    );
    const refused =
      phase.phase === 'form' && phase.refused !== undefined
        ? h('p', { class: 'cls-refused', role: 'alert' }, phase.refused)
        : null;
    const form = h(
      'form',
      { class: 'cls-form', novalidate: true, 'aria-labelledby': 'cls-form-title' },
      h('h2', { id: 'cls-form-title' }, 'Join with the code'),
      refused,
      h(
        'div',
        { class: 'cls-field' },
        h('label', { for: 'cls-code' }, 'Join code'),
        h(
          'p',
          { class: 'cls-help', id: 'cls-code-help' },
          'Six letters and digits, as your teacher shows them.',
        ),
        code,
        codeError,
      ),
      h(
        'div',
        { class: 'cls-field' },
        h('label', { for: 'cls-name' }, 'Display name'),
        h(
          'p',
          { class: 'cls-help', id: 'cls-name-help' },
          `How your teacher sees you: 1 to ${NAME_MAX_CHARS} characters.`,
        ),
        name,
        nameError,
      ),
      join,
    );
    code.addEventListener('input', () => {
      typedCode = code.value;
    });
    name.addEventListener('input', () => {
      typedName = name.value;
    });
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const problems = joinFormProblems(code.value, name.value);
      codeError.textContent = problems?.code ?? '';
      nameError.textContent = problems?.name ?? '';
      for (const [input, problem] of [
        [code, problems?.code],
        [name, problems?.name],
      ] as const) {
        if (problem === undefined) input.removeAttribute('aria-invalid');
        else input.setAttribute('aria-invalid', 'true');
      }
      if (problems !== null) {
        (problems.code !== undefined ? code : name).focus();
        return;
      }
      typedCode = normaliseJoinCode(code.value);
      client.join(typedCode, name.value);
    });
    queueMicrotask(() => {
      if (refused !== null || typedCode === '') code.focus();
      else if (phase.phase === 'form') name.focus();
    });
    return form;
  };

  const unsubscribe = client.onPhase(render);
  return {
    dispose() {
      unsubscribe();
      element.replaceChildren();
    },
  };
}

function leaveButton(client: ClassroomClient, label: string): HTMLButtonElement {
  const button = h('button', { type: 'button', class: 'cls-button cls-leave' }, label);
  button.addEventListener('click', () => client.leave());
  return button;
}

function retryButton(client: ClassroomClient): HTMLButtonElement {
  const button = h('button', { type: 'button', class: 'cls-button cls-secondary' }, 'Check again');
  button.addEventListener('click', () => client.retry());
  return button;
}
