/**
 * Applies the URL policy to a briefing's links and images, and loads the images it may use.
 *
 * Links: web and e-mail addresses are kept (external links open in a new context in readers);
 * fragments are left to rehype-anchors; anything else is an error and the link is dropped.
 * Images: relative paths inside the source folder, read and checked by `loadImage`, and — only when
 * the build allows remote images — web addresses fetched and checked by `RemoteImages`; either way
 * the `src` becomes the content-addressed `assets/…` name, so the browser never fetches anything.
 */
import type { Element, Root } from 'hast';
import { visit } from 'unist-util-visit';
import type { VFile } from 'vfile';
import { loadImage } from '../assets.ts';
import { error } from '../messages.ts';
import type { Asset, ImageRead } from '../model.ts';
import { classifyUrl } from '../urls.ts';

function shown(value: string): string {
  return value.length > 60 ? `${value.slice(0, 59)}…` : value;
}

/** Checks every link and image address and loads the images; see the module comment. */
export function rehypeResources() {
  return async (tree: Root, file: VFile) => {
    const sourceDir = file.data.sourceDir ?? '';
    const assets = new Map<string, Asset>();
    const images: Element[] = [];
    const reads: ImageRead[] = [];

    visit(tree, 'element', (node: Element) => {
      if (node.tagName === 'img') images.push(node);
      if (node.tagName !== 'a' || typeof node.properties.href !== 'string') return;
      const href = node.properties.href;
      const url = classifyUrl(href);
      if (url.kind === 'fragment') return;
      if (url.kind === 'web' || url.kind === 'mailto') {
        node.properties.href = url.url;
        return;
      }
      const why = url.kind === 'relative' ? 'a link to a file, which a printed pack cannot follow' : url.why;
      error(
        file,
        `Unexpected link to \`${shown(href)}\` (${why}), expected a web address (\`https://…\`), an e-mail address (\`mailto:…\`) or a heading (\`#…\`)`,
        { ruleId: 'link-url', place: node.position },
      );
      node.properties.href = undefined;
    });

    for (const node of images) {
      const src = typeof node.properties.src === 'string' ? node.properties.src : '';
      const alt = typeof node.properties.alt === 'string' ? node.properties.alt.trim() : '';
      if (alt === '') {
        error(
          file,
          `Unexpected image \`${shown(src)}\` without alternative text, expected a description in the brackets: \`![A map of the corridor](${shown(src)})\``,
          { ruleId: 'image-alt', place: node.position },
        );
      }
      const url = classifyUrl(src);
      node.properties.src = undefined;
      const remote = url.kind === 'web' ? file.data.remoteImages : undefined;
      if (url.kind !== 'relative' && !(url.kind === 'web' && remote)) {
        const reason =
          url.kind === 'web'
            ? 'a remote image; download it into `assets/` and link it relatively (or build with `--allow-remote-images`)'
            : url.kind === 'refused'
              ? `${url.why}; link an image file inside the source folder`
              : 'not an image file; link an image file inside the source folder';
        error(file, `Unexpected image \`${shown(src)}\`: ${reason}`, {
          ruleId: url.kind === 'web' ? 'remote-image' : 'image-url',
          place: node.position,
        });
        continue;
      }
      const loaded =
        url.kind === 'relative'
          ? await loadImage(sourceDir, file.path, url.path)
          : url.kind === 'web' && remote
            ? await remote.load(url.url)
            : undefined;
      if (!loaded) continue;
      if ('problem' in loaded) {
        error(file, `Unexpected image \`${shown(src)}\`: ${loaded.problem.reason}`, {
          ruleId: loaded.problem.ruleId,
          place: node.position,
        });
        continue;
      }
      assets.set(loaded.asset.href, loaded.asset);
      node.properties.src = loaded.asset.href;
      if (url.kind === 'relative')
        reads.push({ reference: url.path, href: loaded.asset.href, mediaType: loaded.asset.mediaType });
    }
    file.data.assets = [...assets.values()];
    file.data.imageReads = reads;
  };
}
