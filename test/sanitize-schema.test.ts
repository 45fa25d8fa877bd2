/**
 * The last guard of the content tree on its own: whatever an earlier step might let through, the
 * sanitize schema keeps only inert elements, attributes and URL schemes.
 */
import type { Element, ElementContent, Root } from 'hast';
import rehypeSanitize from 'rehype-sanitize';
import rehypeStringify from 'rehype-stringify';
import { unified } from 'unified';
import { describe, expect, it } from 'vitest';
import { sanitizeSchema } from '../pipeline/lib/markdown/sanitize-schema.ts';

const element = (
  tagName: string,
  properties: Element['properties'] = {},
  children: ElementContent[] = [],
): Element => ({ type: 'element', tagName, properties, children });
const text = (value: string): ElementContent => ({ type: 'text', value });

async function sanitise(children: ElementContent[]): Promise<string> {
  const processor = unified().use(rehypeSanitize, sanitizeSchema).use(rehypeStringify);
  const tree = (await processor.run({ type: 'root', children } as Root)) as Root;
  return processor.stringify(tree);
}

describe('sanitizeSchema', () => {
  it('removes elements that run code, embed documents, style or submit', async () => {
    const html = await sanitise([
      element('script', {}, [text('alert(1)')]),
      element('style', {}, [text('body { background: url(http://127.0.0.1/) }')]),
      element('iframe', { src: 'http://127.0.0.1/' }),
      element('object', { data: 'http://127.0.0.1/' }),
      element('embed', { src: 'http://127.0.0.1/' }),
      element('link', { rel: ['stylesheet'], href: 'http://127.0.0.1/' }),
      element('meta', { httpEquiv: ['refresh'], content: '0; url=http://127.0.0.1/' }),
      element('base', { href: 'http://127.0.0.1/' }),
      element('form', { action: 'http://127.0.0.1/' }, [element('button', {}, [text('go')])]),
      element('svg', {}, [element('image', { href: 'http://127.0.0.1/' })]),
      element('p', {}, [text('kept')]),
    ]);
    expect(html).not.toMatch(/<(script|style|iframe|object|embed|link|meta|base|form|button|svg|image)/);
    expect(html).toContain('<p>kept</p>');
  });

  it('removes event handlers, styles and srcset, and every URL scheme but http, https and mailto', async () => {
    const html = await sanitise([
      element('img', { src: 'data:image/svg+xml,<svg onload=alert(1)>', alt: 'a', onError: 'alert(1)' }),
      element('img', { src: 'assets/0123456789abcdef0123.png', alt: 'b', srcSet: 'http://127.0.0.1/ 2x' }),
      element('a', { href: 'javascript:alert(1)', style: 'color: red' }, [text('j')]),
      element('a', { href: 'file:///etc/passwd' }, [text('f')]),
      element('img', { src: 'http://127.0.0.1/x.png', alt: 'c' }),
      element('img', { src: '../../secret.png', alt: 'd' }),
      element('a', { href: 'https://example.org/', onClick: 'alert(1)' }, [text('w')]),
      element('a', { href: 'mailto:desk@example.org' }, [text('m')]),
    ]);
    expect(html).not.toMatch(/onerror|onclick|style=|srcset|javascript:|file:|data:|127\.0\.0\.1|secret/i);
    expect(html).toContain('<img src="assets/0123456789abcdef0123.png" alt="b">');
    expect(html).toContain('<img alt="c">');
    expect(html).toContain('<a href="https://example.org/">w</a>');
    expect(html).toContain('<a href="mailto:desk@example.org">m</a>');
  });
});
