/**
 * xterm.js colours from Starlight's custom properties, so a terminal follows the light or dark
 * theme. Only the labs that show a terminal import this (with xterm itself).
 */
import type { ITheme } from '@xterm/xterm';

/** The xterm colours, from Starlight's custom properties, so the terminal follows the theme. */
export function terminalTheme(probe: HTMLElement): ITheme {
  const color = (variable: string, fallback: string) => {
    probe.style.color = `var(${variable}, ${fallback})`;
    return getComputedStyle(probe).color;
  };
  const red = color('--sl-color-red-high', '#c00');
  const green = color('--sl-color-green-high', '#080');
  const yellow = color('--sl-color-orange-high', '#a60');
  const blue = color('--sl-color-blue-high', '#04c');
  const magenta = color('--sl-color-purple-high', '#80c');
  const cyan = color('--sl-color-accent-high', '#088');
  const foreground = color('--sl-color-white', '#111');
  const dim = color('--sl-color-gray-3', '#777');
  return {
    background: color('--sl-color-bg-nav', '#fff'),
    foreground,
    cursor: foreground,
    selectionBackground: color('--sl-color-accent-low', '#ccd'),
    black: dim,
    red,
    green,
    yellow,
    blue,
    magenta,
    cyan,
    white: foreground,
    brightBlack: dim,
    brightRed: red,
    brightGreen: green,
    brightYellow: yellow,
    brightBlue: blue,
    brightMagenta: magenta,
    brightCyan: cyan,
    brightWhite: foreground,
  };
}
