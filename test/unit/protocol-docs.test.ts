import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLOSE_CODES } from '../../src/protocol.js';

/** A row of the doc's close-code table; a cell that is not `yes` or `no` stays text, to show as a difference. */
interface DocumentedCloseCode {
  code: number;
  name: string | undefined;
  reconnects: boolean | string | undefined;
  keepsSession: boolean | string | undefined;
  summary: string | undefined;
  /** Cells past the fifth, so that a row with a column too many differs too. */
  extra?: string[];
}

function yesNo(cell: string | undefined): boolean | string | undefined {
  return cell === 'yes' ? true : cell === 'no' ? false : cell;
}

/** The rows of the table under "## Close codes", whose first cell is a number. */
function documentedCloseCodes(markdown: string): DocumentedCloseCode[] {
  const section = markdown.split(/^## /m).find((part) => part.startsWith('Close codes\n')) ?? '';
  return section
    .split('\n')
    .filter((line) => /^\|\s*\d+\s*\|/.test(line))
    .map((line) => {
      const [code, name, reconnects, keepsSession, summary, ...extra] = line
        .replace(/^\||\|$/g, '')
        .split('|')
        .map((cell) => cell.trim());
      return {
        code: Number(code),
        name,
        reconnects: yesNo(reconnects),
        keepsSession: yesNo(keepsSession),
        summary,
        ...(extra.length > 0 ? { extra } : {}),
      };
    });
}

describe('docs/protocol.md', () => {
  it('lists exactly the close codes of CLOSE_CODES, with the same name, behaviour and meaning', () => {
    const text = readFileSync(join(import.meta.dirname, '../../docs/protocol.md'), 'utf8');
    const byCode = (a: { code: number }, b: { code: number }) => a.code - b.code;
    expect(documentedCloseCodes(text).sort(byCode)).toEqual([...CLOSE_CODES].sort(byCode));
  });
});
