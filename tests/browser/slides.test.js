// Slides beside the words, in a room, against the real local stack: the
// organiser (organiser link) uploads two images through the words card's
// form and loads words whose lines name them; a singer (singers' link), in
// another browser context, sees the slide of the line the organiser moved
// to, at the singer's own playback clock: the same switch as the line
// (ui/words.js records line and slide together), with the image's own
// pixels (its size and a pixel's colour read in the singer's page).
//
// Refusals asserted on the way, each a 4xx with a JSON "error" sentence
// and the room's slides unchanged: a PNG cut short and a text file
// through the organiser's form, 4.5 MiB by the organiser's fetch; from the singer's page a POST of a good
// image (not the leader nor the organiser: 403); a GET with a wrong key
// (403). A slide is served as image/png with an ETag (a 304 for it) and,
// under the URL naming its version, cached for good. Once the singer
// leads, their JPEG through the same form is stored as slide 3. Each
// action is one line of the upload worker's log, with the room, the role
// and the public id, and neither page's secret userid.
// Screenshots: slides-singer-390/1280, slides-present-390/1280,
// slides-organiser-390 and slides-organiser-form-390 in build/browser-out/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import {
  createRoom, enterApp, launchChromium, makeTone, openPage, outDir, sleep, stackBuilt, startStack, stopStack, withTimeout,
} from './lib.js';

const init = () => { localStorage.setItem('bb.noLatency', '1'); localStorage.setItem('bb.noTutorial', '1'); };
const hooked = (link) => { const u = new URL(link); u.search = '?test=1'; return u.href; };
const WORDS = '[slide 1]\nAmazing grace, how sweet the sound\n[slide 2] That saved a wretch like me\n\n[slide 0] I once was lost\n';

// A PNG drawn in the page: a colour, a frame and a big label.
function drawPng([w, h, colour, label]) {
  const c = document.createElement('canvas');
  c.width = w;
  c.height = h;
  const g = c.getContext('2d');
  g.fillStyle = colour;
  g.fillRect(0, 0, w, h);
  g.strokeStyle = '#fff';
  g.lineWidth = 12;
  g.strokeRect(6, 6, w - 12, h - 12);
  g.fillStyle = '#fff';
  g.font = `bold ${Math.round(h / 4)}px sans-serif`;
  g.textAlign = 'center';
  g.fillText(label, w / 2, h / 2 + h / 12);
  return c.toDataURL('image/png').split(',')[1];
}

// Uploads through the organiser's form; resolves the result line.
async function upload(page, file, n) {
  const before = await page.textContent('#slide-result');
  await page.fill('#slide-number', n ? String(n) : '');
  await page.setInputFiles('#slide-file', file);
  await page.click('#slide-file ~ button[type=submit]');
  await page.waitForFunction((b) => {
    const t = document.getElementById('slide-result').textContent;
    return t !== b && t !== 'Uploading…';
  }, before, { timeout: 20000 });
  return page.textContent('#slide-result');
}

// The singer's current slide: its number, and the image's size and the
// colour of its middle pixel once loaded.
function slideSeen() {
  const img = document.getElementById('words-slide');
  const st = window.bbTest.words.state;
  const fig = img.closest('figure');
  if (!img.complete || !img.naturalWidth || fig.hidden) return { slide: st.slide, shown: !fig.hidden };
  const c = document.createElement('canvas');
  c.width = img.naturalWidth;
  c.height = img.naturalHeight;
  const g = c.getContext('2d');
  g.drawImage(img, 0, 0);
  const px = g.getImageData(20, Math.round(c.height / 2), 1, 1).data;
  return { slide: st.slide, shown: true, w: img.naturalWidth, h: img.naturalHeight, rgb: [px[0], px[1], px[2]] };
}

test('the organiser\'s slides reach a singer with the line they belong to', { timeout: 300000 }, async (t) => {
  const built = stackBuilt();
  if (!built.ok) {
    t.skip(`the local stack is not built (missing ${built.missing.join(', ')})`);
    return;
  }
  const SHOTS = outDir();
  const stack = await startStack();
  const b = await launchChromium(makeTone('slides-silence.wav', 440, 60, 0));
  const pages = [];
  try {
    const room = createRoom(stack, 'Slide Choir');
    const singersKey = new URL(room.singers).hash.slice(1);
    const O = await openPage(b, hooked(room.organiser), { init });
    O.name = 'organiser';
    const S = await openPage(b, hooked(room.singers), { init });
    S.name = 'singer';
    pages.push(O, S);
    await withTimeout(enterApp(O.page, 'Olga'), 40000, 'the organiser enters');
    await withTimeout(enterApp(S.page, 'Sam'), 40000, 'the singer enters');
    const org = O.page;
    const sam = S.page;

    // Two slides of different sizes and colours, through the form.
    await org.waitForSelector('#words-card:not([hidden])');
    await org.evaluate(() => { document.querySelector('.words-load-box').open = true; });
    const one = Buffer.from(await org.evaluate(drawPng, [640, 360, '#1d4ed8', 'SLIDE 1']), 'base64');
    const two = Buffer.from(await org.evaluate(drawPng, [480, 360, '#b91c1c', 'SLIDE 2']), 'base64');
    let r = await upload(org, { name: 'one.png', mimeType: 'image/png', buffer: one }, 1);
    assert.match(r, /^Stored as slide 1 \(640×360\)/);
    r = await upload(org, { name: 'two.png', mimeType: 'image/png', buffer: two }, 0);
    assert.match(r, /^Stored as slide 2 \(480×360\)/);
    await org.waitForFunction(() => /slides: 1, 2$/.test(document.getElementById('slide-list').textContent), null, { timeout: 10000 });

    // Malformed files: refused with a sentence, nothing changed.
    const slidesNow = () => org.evaluate(() => JSON.stringify([...window.bbTest.words.state.slideList.entries()]));
    const before = await slidesNow();
    r = await upload(org, { name: 'cut.png', mimeType: 'image/png', buffer: one.subarray(0, Math.floor(one.length / 2)) }, 1);
    assert.match(r, /^Not stored: the image is broken or cut short.*nothing was changed$/);
    r = await upload(org, { name: 'words.txt', mimeType: 'text/plain', buffer: Buffer.from('Amazing grace') }, 3);
    assert.match(r, /^Not stored: the file is not a PNG or JPEG image; nothing was changed$/);
    // Over 4 MiB (under nginx's 5 MiB): the worker's sentence, as JSON.
    const big = await org.evaluate(async () => {
      const st = window.bbTest.state;
      const body = new Uint8Array(4.5 * 1024 * 1024);
      body.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
      const r = await fetch(`/api/slide?room=${st.room.id}&key=${st.room.key}&userid=${st.userid}&n=1`, { method: 'POST', body });
      return { status: r.status, type: r.headers.get('content-type'), body: await r.json() };
    });
    assert.equal(big.status, 413);
    assert.equal(big.type, 'application/json');
    assert.equal(big.body.error, 'the image file is larger than 4 MiB; nothing was changed');
    await org.evaluate(() => window.bbTest.words.fetchSlides());
    assert.equal(await slidesNow(), before, 'the refused uploads changed nothing');

    // The singer may read, not write; a wrong key reads nothing.
    const probe = await sam.evaluate(async ([id, key]) => {
      const st = window.bbTest.state;
      const q = (extra) => `room=${id}&key=${key}&userid=${st.userid}${extra}`;
      const post = await fetch(`/api/slide?${q('&n=3')}`, { method: 'POST', body: new Uint8Array([0x89, 0x50]) });
      const wrong = await fetch(`/api/slide?room=${id}&key=${key}x&n=1`, { cache: 'no-store' });
      const list = await (await fetch(`/api/slides?room=${id}&key=${key}`, { cache: 'no-store' })).json();
      const v = list.slides.find((s) => s.slide === 1).v;
      const plain = await fetch(`/api/slide?room=${id}&key=${key}&n=1`, { cache: 'no-store' });
      const etag = plain.headers.get('etag');
      const again = await fetch(`/api/slide?room=${id}&key=${key}&n=1`, { cache: 'no-store', headers: { 'If-None-Match': etag } });
      const named = await fetch(`/api/slide?room=${id}&key=${key}&n=1&v=${v}`, { cache: 'no-store' });
      return {
        post: post.status, postBody: await post.json(),
        wrong: wrong.status, wrongBody: await wrong.json(),
        plain: plain.status, type: plain.headers.get('content-type'), cache: plain.headers.get('cache-control'), etag,
        bytes: (await plain.arrayBuffer()).byteLength,
        again: again.status,
        namedCache: named.headers.get('cache-control'),
        slides: list.slides.map((s) => s.slide),
      };
    }, [room.id, singersKey]);
    console.log(`the singer's requests: ${JSON.stringify(probe)}`);
    assert.equal(probe.post, 403);
    assert.equal(probe.postBody.error, 'only the leader or the organiser can change the slides');
    assert.equal(probe.wrong, 403);
    assert.match(probe.wrongBody.error, /not valid/);
    assert.equal(probe.plain, 200);
    assert.equal(probe.type, 'image/png');
    assert.equal(probe.cache, 'private, no-cache');
    assert.match(probe.etag, /^"[0-9a-f-]+"$/);
    assert.ok(probe.bytes > 1000);
    assert.equal(probe.again, 304);
    assert.equal(probe.namedCache, 'private, max-age=31536000, immutable');
    assert.deepEqual(probe.slides, [1, 2]);

    // The words, with their slides; the organiser moves line by line.
    await org.fill('#words-text', WORDS);
    await org.click('#words-text ~ .buttons button[type=submit]');
    await org.waitForFunction(() => /Loaded 4 lines/.test(document.getElementById('words-result').textContent), null, { timeout: 15000 });
    for (const p of [org, sam]) {
      await p.waitForFunction(() => window.bbTest.words.state.words.id > 0 && window.bbTest.words.state.anchor, null, { timeout: 30000 });
    }
    const expect = [
      { line: 0, slide: 1, w: 640, h: 360, rgb: [0x1d, 0x4e, 0xd8] },
      { line: 1, slide: 1, w: 640, h: 360, rgb: [0x1d, 0x4e, 0xd8] },
      { line: 2, slide: 2, w: 480, h: 360, rgb: [0xb9, 0x1c, 0x1c] },
      { line: 3, slide: 0 },
    ];
    for (const want of expect) {
      await org.evaluate(() => window.bbTest.words.advance());
      await org.waitForFunction((l) => window.bbTest.words.state.current === l, want.line, { timeout: 10000 });
      await sam.waitForFunction((l) => window.bbTest.words.state.current === l, want.line, { timeout: 30000 });
      const t0 = Date.now();
      let seen = await sam.evaluate(slideSeen);
      while (want.slide && !seen.w && Date.now() - t0 < 5000) {
        await sleep(20);
        seen = await sam.evaluate(slideSeen);
      }
      const shown = await sam.evaluate((l) => window.bbTest.words.state.shown.find((x) => x.line === l), want.line);
      console.log(`line ${want.line}: the singer shows slide ${seen.slide} (${JSON.stringify(seen)}), switched with the line: ${JSON.stringify(shown)}`);
      assert.equal(shown.slide, want.slide, 'the slide switched in the same step as its line');
      assert.equal(seen.slide, want.slide);
      if (want.slide) {
        assert.equal(seen.w, want.w);
        assert.equal(seen.h, want.h);
        for (let k = 0; k < 3; k++) assert.ok(Math.abs(seen.rgb[k] - want.rgb[k]) <= 2, `colour ${seen.rgb} not ${want.rgb}`);
      } else {
        assert.equal(seen.shown, false, 'no slide after [slide 0]');
      }
      if (want.line === 2) {
        for (const [w, h] of [[390, 844], [1280, 900]]) {
          await sam.setViewportSize({ width: w, height: h });
          await sam.evaluate(() => document.getElementById('words-card').scrollIntoView());
          await sleep(300);
          await sam.screenshot({ path: join(SHOTS, `slides-singer-${w}.png`) });
          const fits = await sam.evaluate(() => {
            const r = document.getElementById('words-slide').getBoundingClientRect();
            return { right: r.right, width: r.width, page: document.documentElement.scrollWidth };
          });
          assert.ok(fits.right <= w && fits.page <= w, `the slide fits ${w} px: ${JSON.stringify(fits)}`);
          await sam.click('#words-present');
          await sleep(300);
          await sam.screenshot({ path: join(SHOTS, `slides-present-${w}.png`) });
          await sam.keyboard.press('Escape');
          await sleep(200);
        }
        await org.setViewportSize({ width: 390, height: 844 });
        await org.evaluate(() => document.getElementById('words-card').scrollIntoView());
        await org.screenshot({ path: join(SHOTS, 'slides-organiser-390.png'), fullPage: false });
        await org.evaluate(() => document.getElementById('slide-file').scrollIntoView({ block: 'center' }));
        await org.screenshot({ path: join(SHOTS, 'slides-organiser-form-390.png'), fullPage: false });
        const wide = await org.evaluate(() => document.documentElement.scrollWidth);
        assert.ok(wide <= 390, `the organiser's card fits 390 px (${wide} px)`);
        await org.setViewportSize({ width: 1200, height: 900 });
      }
    }
    // The singer takes the lead (nobody leads): now the form is theirs
    // too, and a JPEG they upload is a slide for everyone.
    await sam.click('#lead');
    await sam.waitForFunction(() => document.getElementById('lead').textContent === 'Start singing', null, { timeout: 20000 });
    await sam.waitForSelector('.words-load-box:not([hidden])', { timeout: 10000 });
    await sam.evaluate(() => { document.querySelector('.words-load-box').open = true; });
    const jpeg = Buffer.from((await sam.evaluate(() => {
      const c = document.createElement('canvas');
      c.width = 320;
      c.height = 240;
      const g = c.getContext('2d');
      g.fillStyle = '#15803d';
      g.fillRect(0, 0, 320, 240);
      return c.toDataURL('image/jpeg', 0.9);
    })).split(',')[1], 'base64');
    r = await upload(sam, { name: 'three.jpg', mimeType: 'image/jpeg', buffer: jpeg }, 3);
    assert.match(r, /^Stored as slide 3 \(320×240\)/);
    await org.evaluate(() => window.bbTest.words.fetchSlides());
    assert.deepEqual(await org.evaluate(() => [...window.bbTest.words.state.slideList.keys()]), [1, 2, 3]);

    // One log line per action, with the room and public ids, never a
    // secret userid (in our programs' lines: nginx's error log writes a
    // request line whole, and is kept where only root reads it).
    const logs = stack.logs.join('').split('\n').filter((l) => !/^nginx\s*\|/.test(l)).join('\n');
    const lines = logs.split('\n').filter((l) => /slide/.test(l) && !/\] "(GET|POST)/.test(l));
    console.log(`the server's slide lines:\n${lines.join('\n')}`);
    assert.ok(lines.some((l) => new RegExp(`room ${room.id}: slide 1 stored by the organiser \\(public id [1-9][0-9]*\\) \\(png 640x360`).test(l)));
    assert.ok(lines.some((l) => new RegExp(`room ${room.id}: slide 3 stored by the leader \\(public id [1-9][0-9]*\\) \\(jpg 320x240`).test(l)));
    assert.ok(lines.some((l) => new RegExp(`room ${room.id}: a singer \\(public id [1-9][0-9]*\\) was refused a change of the slides`).test(l)));
    for (const p of [org, sam]) {
      const uid = await p.evaluate(() => String(window.bbTest.state.userid));
      assert.ok(!logs.includes(uid), 'no secret userid in the logs');
    }
    for (const s of pages) {
      assert.deepEqual(s.log.filter((l) => l.startsWith('[pageerror]')), []);
    }
  } catch (e) {
    for (const s of pages) {
      console.log(`--- ${s.name} console:\n${s.log.slice(-30).join('\n')}`);
      await s.page.screenshot({ path: join(SHOTS, `slides-${s.name}-failed.png`), fullPage: true }).catch(() => {});
    }
    console.log(`--- server output:\n${stack.logs.join('').slice(-4000)}`);
    throw e;
  } finally {
    await b.close();
    await stopStack(stack);
  }
});
