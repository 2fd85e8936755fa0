#!/usr/bin/env python3
"""Tests for scripts/fake-yt-dlp and the fixtures it replays (fixtures/ytdlp/).

Run from anywhere:  python3 scripts/tests/test_fake_ytdlp.py   (or `python3 -m unittest discover
-s scripts/tests`).  Standard library only; every case spawns the fake exactly as the worker does,
as a child process with an argv vector.
"""

import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import unittest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir, os.pardir))
FAKE = os.path.join(REPO, 'scripts', 'fake-yt-dlp')
FIXTURES = os.path.join(REPO, 'fixtures', 'ytdlp')

# The options hermes-worker passes in front of the target.
SEARCH_ARGV = ['--newline', '--no-colors', '--no-cache-dir', '--flat-playlist', '--dump-single-json']
INFO_ARGV = ['--newline', '--no-colors', '--no-cache-dir', '--dump-single-json', '--no-playlist']

SEARCH_TOP_KEYS = {'id', 'title', '_type', 'entries', 'webpage_url', 'original_url', 'extractor',
                   'extractor_key', 'playlist_count', 'epoch', '_version'}
ENTRY_KEYS = {'_type', 'ie_key', 'id', 'url', 'title', 'description', 'duration', 'channel_id', 'channel',
              'channel_url', 'uploader', 'uploader_id', 'uploader_url', 'thumbnails', 'timestamp',
              'release_timestamp', 'availability', 'live_status', 'channel_is_verified',
              '__x_forwarded_for_ip'}
INFO_KEYS = {'id', 'title', 'fulltitle', 'description', 'duration', 'duration_string', 'thumbnail',
             'thumbnails', 'channel', 'channel_id', 'uploader', 'view_count', 'age_limit', 'availability',
             'live_status', 'webpage_url', 'original_url', 'extractor', 'formats'}

BOT_LINE_START = 'ERROR: [youtube] __bot__: Sign in to confirm you\u2019re not a bot. Use --cookies-from-browser or --cookies for the authentication.'


def run_fake(args, env_extra=None, timeout=20, extra_options=()):
    env = {k: v for k, v in os.environ.items() if not k.startswith('FAKE_YTDLP_')}
    env.update(env_extra or {})
    return subprocess.run([FAKE, *extra_options, *args], capture_output=True, env=env, timeout=timeout)


def search(target, **kw):
    return run_fake([*SEARCH_ARGV, '--', target], **kw)


def info(url, **kw):
    return run_fake([*INFO_ARGV, '--', url], **kw)


def only_json_line(proc):
    """Without --no-quiet, stdout must be exactly one newline-terminated JSON document."""
    out = proc.stdout.decode('utf-8')
    assert out.endswith('\n') and out.count('\n') == 1, out[:200]
    return json.loads(out)


def load(rel):
    with open(os.path.join(FIXTURES, rel), encoding='utf-8') as f:
        return json.load(f)


class VersionAndArgv(unittest.TestCase):
    def test_version_prints_pinned_release(self):
        proc = run_fake(['--version'])
        self.assertEqual(proc.returncode, 0)
        self.assertEqual(proc.stdout, b'2026.10.26\n')

    def test_target_falls_back_to_last_argument_without_double_dash(self):
        proc = run_fake(['-J', '--flat-playlist', 'ytsearch2:never gonna give you up'])
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(len(only_json_line(proc)['entries']), 2)

    def test_argument_after_double_dash_wins_over_last(self):
        proc = run_fake(['-J', '--', 'ytsearch1:lofi hip hop', 'https://youtu.be/dQw4w9WgXcQ'])
        self.assertEqual(only_json_line(proc)['title'], 'lofi hip hop')

    def test_unknown_options_with_values_are_ignored(self):
        proc = run_fake(['--progress-template', 'download:%(progress)j', '--print', 'after_move:filepath',
                         '--cookies', '/nonexistent', '-J', '--', 'https://youtu.be/dQw4w9WgXcQ'])
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(only_json_line(proc)['id'], 'dQw4w9WgXcQ')

    def test_download_without_dump_json_is_refused_loudly(self):
        proc = run_fake(['--newline', '--', 'https://youtu.be/dQw4w9WgXcQ'])
        self.assertEqual(proc.returncode, 2)
        self.assertEqual(proc.stdout, b'')
        self.assertIn(b'--dump-single-json', proc.stderr)

    def test_missing_target_is_a_usage_error(self):
        proc = run_fake(['-J'])
        self.assertEqual(proc.returncode, 2)
        self.assertIn(b'You must provide at least one URL', proc.stderr)


class Search(unittest.TestCase):
    def test_count_truncates_entries_and_playlist_count(self):
        doc = only_json_line(search('ytsearch3:never gonna give you up'))
        self.assertEqual([e['id'] for e in doc['entries']],
                         [e['id'] for e in load('search/never-gonna-give-you-up.json')['entries'][:3]])
        self.assertEqual(doc['playlist_count'], 3)

    def test_bare_ytsearch_means_one_result(self):
        self.assertEqual(len(only_json_line(search('ytsearch:never gonna give you up'))['entries']), 1)

    def test_ytsearchall_and_oversized_count_return_everything_recorded(self):
        self.assertEqual(len(only_json_line(search('ytsearchall:music mix'))['entries']), 25)
        self.assertEqual(len(only_json_line(search('ytsearch50:music mix'))['entries']), 25)

    def test_twenty_of_twenty_five_for_the_cap(self):
        self.assertEqual(len(only_json_line(search('ytsearch20:music mix'))['entries']), 20)

    def test_query_is_normalised_for_lookup_but_echoed_verbatim(self):
        raw = '  Never   GONNA give You Up '
        doc = only_json_line(search(f'ytsearch10:{raw}'))
        self.assertEqual(doc['id'], raw)
        self.assertEqual(doc['title'], raw)
        self.assertEqual(doc['webpage_url'], f'ytsearch10:{raw}')
        self.assertEqual(doc['original_url'], f'ytsearch10:{raw}')
        self.assertEqual(doc['entries'][0]['id'], 'dQw4w9WgXcQ')
        self.assertEqual(len(doc['entries']), 10)

    def test_punctuation_slug(self):
        doc = only_json_line(search('ytsearch5:AC/DC & friends'))
        self.assertEqual(doc['entries'], load('search/ac-dc-friends.json')['entries'][:5])
        self.assertEqual(doc['webpage_url_basename'], 'DC & friends')  # yt-dlp's url_basename quirk

    def test_unknown_query_gets_default_fixture_restamped(self):
        doc = only_json_line(search('ytsearch20:zzz nothing recorded for this'))
        self.assertEqual(doc['id'], 'zzz nothing recorded for this')
        self.assertEqual(doc['title'], 'zzz nothing recorded for this')
        self.assertEqual(doc['webpage_url'], 'ytsearch20:zzz nothing recorded for this')
        self.assertEqual(doc['entries'], load('search/_default.json')['entries'])
        self.assertEqual(len(doc['entries']), 20)
        self.assertGreaterEqual(doc['epoch'], int(time.time()) - 60)

    def test_lofi_has_live_premiere_and_missing_data_entries(self):
        entries = only_json_line(search('ytsearch10:lofi hip hop'))['entries']
        live = [e for e in entries if e['live_status'] == 'is_live']
        self.assertEqual(len(live), 1)
        self.assertIsNone(live[0]['duration'])
        self.assertNotIn('view_count', live[0])  # live rows carry concurrent_view_count instead
        self.assertIsInstance(live[0]['concurrent_view_count'], int)
        self.assertTrue(any(e['live_status'] == 'is_upcoming' and e['duration'] is None for e in entries))
        self.assertTrue(any(e['thumbnails'] == [] for e in entries))
        self.assertTrue(any('view_count' in e and e['view_count'] is None for e in entries))

    def test_no_quiet_prints_yt_dlp_log_lines_before_the_json(self):
        proc = run_fake(['--no-quiet', *SEARCH_ARGV, '--', 'ytsearch2:lofi hip hop'])
        lines = proc.stdout.decode().splitlines()
        self.assertEqual(lines[0], '[youtube:search] Extracting URL: ytsearch2:lofi hip hop')
        self.assertIn('[download] Downloading item 2 of 2', lines)
        self.assertEqual(len(json.loads(lines[-1])['entries']), 2)
        self.assertEqual(proc.stderr, b'')

    def test_quiet_after_no_quiet_silences_log_lines(self):
        proc = run_fake(['--no-quiet', '-q', *SEARCH_ARGV, '--', 'ytsearch2:lofi hip hop'])
        self.assertEqual(len(only_json_line(proc)['entries']), 2)

    def test_output_is_ascii_escaped_like_json_dumps(self):
        proc = search('ytsearch10:never gonna give you up')
        proc.stdout.decode('ascii')  # raises if yt-dlp's ensure_ascii escaping was not mimicked
        titles = [e['title'] for e in only_json_line(proc)['entries']]
        self.assertTrue(any('\u65e5\u672c\u8a9e' in t for t in titles))


class VideoInfo(unittest.TestCase):
    URL_FORMS = [
        'https://www.youtube.com/watch?v=dQw4w9WgXcQ',
        'https://www.youtube.com/watch?feature=share&v=dQw4w9WgXcQ&t=42',
        'https://youtu.be/dQw4w9WgXcQ?si=abc',
        'https://www.youtube.com/shorts/dQw4w9WgXcQ',
        'https://music.youtube.com/watch?v=dQw4w9WgXcQ&list=RDAMVM',
        'https://m.youtube.com/watch?v=dQw4w9WgXcQ',
        'youtube.com/embed/dQw4w9WgXcQ',
    ]

    def test_every_url_form_resolves_to_the_same_video(self):
        for url in self.URL_FORMS:
            with self.subTest(url=url):
                proc = info(url)
                self.assertEqual(proc.returncode, 0, proc.stderr)
                doc = only_json_line(proc)
                self.assertEqual(doc['id'], 'dQw4w9WgXcQ')
                self.assertEqual(doc['original_url'], url)
                self.assertEqual(doc['webpage_url'], 'https://www.youtube.com/watch?v=dQw4w9WgXcQ')

    def test_unknown_id_is_video_unavailable(self):
        proc = info('https://www.youtube.com/watch?v=AAAAAAAAAAA')
        self.assertEqual(proc.returncode, 1)
        self.assertEqual(proc.stderr.decode(),
                         'ERROR: [youtube] AAAAAAAAAAA: Video unavailable. This video has been removed by the uploader\n')
        self.assertEqual(proc.stdout, b'null\n')  # what yt-dlp -J really prints after an extraction error

    def test_no_quiet_info_logs_then_json(self):
        proc = run_fake(['--no-quiet', *INFO_ARGV, '--', 'https://youtu.be/jNQXAC9IVRw'])
        lines = proc.stdout.decode().splitlines()
        self.assertEqual(lines[0], '[youtube] Extracting URL: https://youtu.be/jNQXAC9IVRw')
        doc = json.loads(lines[-1])
        self.assertTrue(lines[-2].endswith(f"Downloading 1 format(s): {doc['format_id']}"))

    def test_age_restricted_fixture(self):
        doc = only_json_line(info('https://www.youtube.com/watch?v=HtVdAasjOgU'))
        self.assertEqual(doc['age_limit'], 18)
        self.assertEqual(doc['availability'], 'needs_auth')


class MagicTargets(unittest.TestCase):
    def assert_search_failure(self, proc, expected_error_line):
        self.assertEqual(proc.returncode, 1)
        self.assertEqual(proc.stderr.decode('utf-8'), expected_error_line + '\n')
        # Like the real yt-dlp, stdout still gets a hollow playlist: only the exit code tells failure.
        doc = only_json_line(proc)
        self.assertEqual(doc['entries'], [None])
        self.assertEqual(doc['playlist_count'], 0)

    def test_error_is_a_name_resolution_failure(self):
        self.assert_search_failure(
            search('ytsearch5:__error__'),
            "ERROR: [youtube:search] Unable to download API page: <urlopen error [Errno -3] Temporary failure "
            "in name resolution> (caused by URLError(gaierror(-3, 'Temporary failure in name resolution')))")

    def test_429_is_rate_limited(self):
        self.assert_search_failure(
            search('ytsearch5:__429__'),
            'ERROR: [youtube:search] Unable to download API page: HTTP Error 429: Too Many Requests')

    def test_magic_query_matches_after_normalisation(self):
        self.assertEqual(search('ytsearch5:  __429__ ').returncode, 1)

    def test_private_as_video_id(self):
        proc = info('https://www.youtube.com/watch?v=__private__')
        self.assertEqual(proc.returncode, 1)
        self.assertEqual(proc.stderr.decode(), "ERROR: [youtube] __private__: Private video. Sign in if "
                                               "you've been granted access to this video\n")
        self.assertEqual(proc.stdout, b'null\n')

    def test_private_as_search_query(self):
        proc = search('ytsearch5:__private__')
        self.assertEqual(proc.returncode, 1)
        self.assertIn(b'Private video', proc.stderr)

    def test_bot_check(self):
        for proc in (search('ytsearch1:__bot__'), info('https://youtu.be/__bot__')):
            self.assertEqual(proc.returncode, 1)
            err = proc.stderr.decode('utf-8')
            self.assertTrue(err.startswith(BOT_LINE_START), err)
            self.assertEqual(err.count('\n'), 1)

    def test_garbage_is_unparseable_but_succeeds(self):
        proc = search('ytsearch5:__garbage__')
        self.assertEqual(proc.returncode, 0)
        self.assertEqual(proc.stdout, b'this is not json {\n')
        with self.assertRaises(ValueError):
            json.loads(proc.stdout)

    def test_crash_is_a_real_sigsegv_after_partial_json(self):
        proc = search('ytsearch5:__crash__')
        self.assertEqual(proc.returncode, -signal.SIGSEGV)
        self.assertTrue(proc.stdout.startswith(b'{"id": "__crash__"'))
        with self.assertRaises(ValueError):
            json.loads(proc.stdout)

    def test_crash_exit_status_seen_by_a_shell_is_139(self):
        proc = subprocess.run(['sh', '-c', '"$0" -J -- "ytsearch:__crash__" >/dev/null; echo $?', FAKE],
                              capture_output=True, timeout=20)
        self.assertEqual(proc.stdout.strip(), b'139')

    def test_hang_is_silent_and_dies_under_timeout(self):
        started = time.monotonic()
        proc = subprocess.run(['timeout', '2', FAKE, *SEARCH_ARGV, '--no-quiet', '--', 'ytsearch5:__hang__'],
                              capture_output=True, timeout=20)
        elapsed = time.monotonic() - started
        self.assertEqual(proc.returncode, 124)  # timeout(1): the command was killed by SIGTERM
        self.assertEqual(proc.stdout, b'')
        self.assertEqual(proc.stderr, b'')
        self.assertGreaterEqual(elapsed, 1.9)
        self.assertLess(elapsed, 5)

    def test_hang_as_video_dies_on_sigkill(self):
        child = subprocess.Popen([FAKE, *INFO_ARGV, '--', 'https://youtu.be/__hang__'],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            with self.assertRaises(subprocess.TimeoutExpired):
                child.wait(timeout=0.7)
            child.kill()
            self.assertEqual(child.wait(timeout=5), -signal.SIGKILL)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
            child.stdout.close()
            child.stderr.close()

    def test_slow_waits_then_answers_as_slow(self):
        started = time.monotonic()
        proc = search('ytsearch3:__slow__')
        elapsed = time.monotonic() - started
        self.assertGreaterEqual(elapsed, 1.5)
        doc = only_json_line(proc)
        self.assertEqual(doc['title'], 'slow')
        self.assertEqual(len(doc['entries']), 3)


class EnvironmentKnobs(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix='fake-ytdlp-test-')
        self.addCleanup(shutil.rmtree, self.tmp)
        self.log = os.path.join(self.tmp, 'invocations.log')

    def read_log(self):
        with open(self.log, encoding='utf-8') as f:
            return f.read().splitlines()

    def test_log_gets_one_line_per_invocation_including_failures(self):
        env = {'FAKE_YTDLP_LOG': self.log}
        search('ytsearch5:never gonna give you up', env_extra=env)
        info('https://youtu.be/dQw4w9WgXcQ', env_extra=env)
        search('ytsearch5:__429__', env_extra=env)
        run_fake(['--version'], env_extra=env)  # not a look-up: not counted
        self.assertEqual(self.read_log(), ['ytsearch5:never gonna give you up',
                                           'https://youtu.be/dQw4w9WgXcQ', 'ytsearch5:__429__'])

    def test_concurrent_invocations_never_lose_or_mangle_log_lines(self):
        env = {'FAKE_YTDLP_LOG': self.log, 'FAKE_YTDLP_DELAY_MS': '300'}
        results = []

        def one(i):
            results.append(search(f'ytsearch1:query number {i}', env_extra=env).returncode)

        threads = [threading.Thread(target=one, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(results, [0] * 8)
        self.assertEqual(sorted(self.read_log()), sorted(f'ytsearch1:query number {i}' for i in range(8)))

    def test_delay_is_applied_before_answering(self):
        started = time.monotonic()
        proc = info('https://youtu.be/dQw4w9WgXcQ', env_extra={'FAKE_YTDLP_DELAY_MS': '700'})
        self.assertGreaterEqual(time.monotonic() - started, 0.7)
        self.assertEqual(only_json_line(proc)['id'], 'dQw4w9WgXcQ')

    def test_invocation_is_logged_before_the_delay(self):
        env = {'FAKE_YTDLP_LOG': self.log, 'FAKE_YTDLP_DELAY_MS': '3000'}
        child = subprocess.Popen([FAKE, *SEARCH_ARGV, '--', 'ytsearch1:in flight'],
                                 env={**os.environ, **env}, stdout=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 2
            while time.monotonic() < deadline and not os.path.exists(self.log):
                time.sleep(0.02)
            self.assertEqual(self.read_log(), ['ytsearch1:in flight'])
            self.assertIsNone(child.poll())
        finally:
            child.terminate()
            child.wait()

    def test_bad_delay_value_is_reported(self):
        proc = search('ytsearch1:x', env_extra={'FAKE_YTDLP_DELAY_MS': 'soon'})
        self.assertEqual(proc.returncode, 2)
        self.assertIn(b'FAKE_YTDLP_DELAY_MS', proc.stderr)

    def test_fixtures_dir_override(self):
        os.makedirs(os.path.join(self.tmp, 'search'))
        os.makedirs(os.path.join(self.tmp, 'info'))
        playlist = load('search/ac-dc-friends.json')
        playlist['entries'] = playlist['entries'][:1]
        with open(os.path.join(self.tmp, 'search', 'only-here.json'), 'w', encoding='utf-8') as f:
            json.dump(playlist, f)
        env = {'FAKE_YTDLP_FIXTURES': self.tmp}
        doc = only_json_line(search('ytsearch5:Only Here', env_extra=env))
        self.assertEqual(len(doc['entries']), 1)
        self.assertEqual(doc['title'], 'Only Here')
        proc = info('https://youtu.be/dQw4w9WgXcQ', env_extra=env)  # not in the override dir
        self.assertEqual(proc.returncode, 1)
        self.assertIn(b'Video unavailable', proc.stderr)

    def test_broken_fixture_is_a_fake_error_not_a_yt_dlp_error(self):
        os.makedirs(os.path.join(self.tmp, 'search'))
        with open(os.path.join(self.tmp, 'search', '_default.json'), 'w', encoding='utf-8') as f:
            f.write('{ broken')
        proc = search('ytsearch1:anything', env_extra={'FAKE_YTDLP_FIXTURES': self.tmp})
        self.assertEqual(proc.returncode, 2)
        self.assertIn(b'ERROR: fake-yt-dlp: cannot read fixture', proc.stderr)

    def test_works_through_a_symlink_named_yt_dlp(self):
        link = os.path.join(self.tmp, 'yt-dlp')
        os.symlink(FAKE, link)
        proc = subprocess.run([link, '-J', '--', 'https://youtu.be/jNQXAC9IVRw'], capture_output=True, timeout=20)
        self.assertEqual(only_json_line(proc)['title'], 'Me at the zoo')


class FixtureShapes(unittest.TestCase):
    """The recorded files must keep the shape real yt-dlp prints, whatever someone edits later."""

    def search_files(self):
        folder = os.path.join(FIXTURES, 'search')
        return sorted(n for n in os.listdir(folder) if n.endswith('.json'))

    def test_required_search_fixtures_exist_with_sizes(self):
        sizes = {n: len(load(f'search/{n}')['entries']) for n in self.search_files()}
        self.assertEqual(sizes['never-gonna-give-you-up.json'], 10)
        self.assertEqual(sizes['_default.json'], 20)
        self.assertIn('ac-dc-friends.json', sizes)
        self.assertIn('lofi-hip-hop.json', sizes)
        self.assertTrue(any(n >= 25 for n in sizes.values()))

    def test_search_playlists_and_entries_have_yt_dlp_keys(self):
        for name in self.search_files():
            doc = load(f'search/{name}')
            with self.subTest(name=name):
                self.assertLessEqual(SEARCH_TOP_KEYS, set(doc))
                self.assertEqual(doc['_type'], 'playlist')
                self.assertEqual(doc['extractor'], 'youtube:search')
                self.assertEqual(doc['extractor_key'], 'YoutubeSearch')
                self.assertEqual(doc['playlist_count'], len(doc['entries']))
                for entry in doc['entries']:
                    self.assertLessEqual(ENTRY_KEYS, set(entry))
                    self.assertTrue('view_count' in entry or 'concurrent_view_count' in entry)
                    self.assertEqual((entry['_type'], entry['ie_key']), ('url', 'Youtube'))
                    self.assertRegex(entry['id'], r'^[0-9A-Za-z_-]{11}$')
                    self.assertRegex(entry['url'], r'^https://www\.youtube\.com/(watch\?v=|shorts/)' + entry['id'] + '$')
                    self.assertTrue(entry['duration'] is None or isinstance(entry['duration'], (int, float)))
                    for thumb in entry['thumbnails']:
                        self.assertEqual(set(thumb), {'url', 'height', 'width'})

    def test_durations_come_in_both_number_shapes(self):
        floats = [e['duration'] for e in load('search/never-gonna-give-you-up.json')['entries']]
        ints = [e['duration'] for e in load('search/ac-dc-friends.json')['entries']]
        self.assertTrue(all(isinstance(d, float) for d in floats))
        self.assertTrue(all(type(d) is int for d in ints))

    def test_info_fixtures_have_yt_dlp_keys_and_youtube_formats(self):
        folder = os.path.join(FIXTURES, 'info')
        names = sorted(n for n in os.listdir(folder) if n.endswith('.json'))
        self.assertIn('dQw4w9WgXcQ.json', names)
        self.assertGreaterEqual(len(names), 3)
        for name in names:
            doc = load(f'info/{name}')
            with self.subTest(name=name):
                self.assertLessEqual(INFO_KEYS, set(doc))
                self.assertEqual(doc['extractor'], 'youtube')
                self.assertEqual(doc['id'] + '.json', name)
                self.assertIs(type(doc['duration']), int)
                by_id = {f['format_id']: f for f in doc['formats']}
                for itag in ('139', '140', '249', '250', '251'):
                    fmt = by_id[itag]
                    self.assertEqual(fmt['vcodec'], 'none')
                    self.assertIn(fmt['audio_ext'], ('m4a', 'webm'))
                    self.assertIsInstance(fmt['abr'], float)
                    self.assertTrue(fmt.get('filesize') or fmt.get('filesize_approx'))
                for fmt in by_id.values():
                    if fmt['acodec'] == 'none' and fmt['vcodec'] != 'none':
                        self.assertIsInstance(fmt['height'], int)
                        self.assertEqual(fmt['dynamic_range'], 'SDR')
                        self.assertTrue(fmt.get('filesize') or fmt.get('filesize_approx'))
                self.assertNotEqual(by_id['18']['acodec'], 'none')
                self.assertNotEqual(by_id['18']['vcodec'], 'none')
                self.assertEqual(by_id['sb0']['format_note'], 'storyboard')
                self.assertEqual(by_id['sb0']['ext'], 'mhtml')

    def test_rick_roll_offers_every_tier_up_to_2160p(self):
        doc = load('info/dQw4w9WgXcQ.json')
        heights = {f['height'] for f in doc['formats'] if f['vcodec'] != 'none' and f['acodec'] == 'none'}
        self.assertEqual(heights, {144, 240, 360, 480, 720, 1080, 1440, 2160})
        by_id = {f['format_id'] for f in doc['formats']}
        self.assertLessEqual({'160', '133', '134', '135', '136', '137', '248', '271', '313', '399', '400', '401'}, by_id)
        self.assertEqual(doc['age_limit'], 0)

    def test_one_age_restricted_fixture(self):
        ages = [load(f'info/{n}')['age_limit'] for n in os.listdir(os.path.join(FIXTURES, 'info'))]
        self.assertIn(18, ages)


if __name__ == '__main__':
    unittest.main(verbosity=2)
