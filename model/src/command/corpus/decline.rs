//! Texts that are no question about the map, answered `Decline`: small talk, questions
//! about other things, other languages, requests to change the map (ASK only reads), SQL
//! typed at it, word salad and garbage.

use rand::seq::IndexedRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::phrases::{Names, Piece};
use super::words::{object_words, pick, plural};

const SMALL_TALK: [&str; 40] = [
    "hi there",
    "good morning",
    "good evening!",
    "how are you doing",
    "how's it going?",
    "thank you so much",
    "thanks a lot",
    "who are you",
    "what can you do",
    "what are you",
    "are you a robot",
    "nice to meet you",
    "goodbye",
    "see you later",
    "bye",
    "ok",
    "okay thanks",
    "yes",
    "no",
    "maybe later",
    "cool",
    "great job",
    "that's wrong",
    "never mind",
    "help",
    "i don't know",
    "what?",
    "huh",
    "test",
    "testing 1 2 3",
    "can you hear me",
    "how old are you",
    "i am bored",
    "sing me a song",
    "write a poem",
    "do you like music",
    "what is love",
    "lol",
    "hmm interesting",
    "good night",
];

const ELSEWHERE: [&str; 30] = [
    "what's the weather like tomorrow",
    "who wrote hamlet",
    "how do i bake bread",
    "what is 2 plus 2",
    "translate good morning into spanish",
    "what is the population of japan",
    "who won the world cup in 2018",
    "how tall is mount everest",
    "recommend a good movie",
    "what day is it today",
    "how do i reset my password",
    "book a table for two at 7",
    "set an alarm for 6 am",
    "play some jazz",
    "what is the speed of light",
    "explain quantum computing",
    "how far is the moon",
    "convert 10 miles to kilometers",
    "what's the square root of 144",
    "send an email to my boss",
    "order a pizza",
    "when was the eiffel tower built",
    "what is machine learning",
    "how many days are in a leap year",
    "who painted the mona lisa",
    "what is the boiling point of water",
    "call mom",
    "turn off the lights",
    "what's the exchange rate of the euro",
    "open the pod bay doors",
];

const FOREIGN: [&str; 40] = [
    "guten tag, wie geht es dir?",
    "ich habe hunger",
    "wo ist der bahnhof",
    "das wetter ist heute schön",
    "bonjour, comment ça va ?",
    "où sont les toilettes",
    "merci beaucoup pour votre aide",
    "il fait beau aujourd'hui",
    "hola, ¿cómo estás?",
    "me gusta la música",
    "¿qué hora es?",
    "buenos días a todos",
    "ciao, come stai?",
    "dove si trova la stazione",
    "bom dia, tudo bem?",
    "obrigado pela ajuda",
    "hoe gaat het met je",
    "dank je wel",
    "hej, hur mår du",
    "tack så mycket",
    "dzień dobry, jak się masz",
    "nasılsın, iyi misin",
    "как тебя зовут?",
    "спасибо большое",
    "где находится вокзал",
    "你好，你叫什么名字？",
    "谢谢你的帮助",
    "我想喝咖啡",
    "こんにちは、お元気ですか",
    "ありがとうございます",
    "駅はどこですか",
    "안녕하세요, 만나서 반갑습니다",
    "감사합니다",
    "नमस्ते, आप कैसे हैं",
    "שלום, מה שלומך",
    "γεια σου, τι κάνεις",
    "شكرا جزيلا",
    "xin chào, bạn khỏe không",
    "selamat pagi, apa kabar",
    "habari yako",
];

const FOREIGN_COMMANDS: [&str; 10] = [
    "zeige alle {} in der nähe des ursprungs",
    "wie viele {} gibt es",
    "montre-moi tous les {}",
    "combien de {} y a-t-il",
    "muéstrame todos los {}",
    "¿cuántos {} hay?",
    "mostrami tutti i {}",
    "покажи все {}",
    "すべての{}を表示して",
    "显示所有的{}",
];

const WRITES: [&str; 34] = [
    "delete all {}",
    "remove the {}",
    "remove every {} from the map",
    "erase the {} near the origin",
    "insert a new {} at the origin",
    "add a {} at (0, 0, 0)",
    "add 5 {} to the map",
    "create a {} at 100, 100, 100",
    "update the {} and set confidence to 1",
    "set the confidence of every {} to 0.5",
    "move the {} to the center",
    "move all {} 10 units up",
    "rename the {} to boxes",
    "change every {} into a sphere",
    "drop all the {}",
    "wipe out the {}",
    "get rid of the {}",
    "replace the {} with lamps",
    "paint the {} blue",
    "duplicate every {}",
    "clear the map",
    "drop the whole map",
    "delete everything",
    "truncate the table",
    "please update all {} to red",
    "update every {} to blue",
    "make all the {} red",
    "colour the {} green",
    "set all {} to red",
    "please change the {} to yellow",
    "turn the {} purple",
    "can you delete the {} please",
    "please remove all {}",
    "mark every {} as done",
];

const SQL: [&str; 22] = [
    "SELECT * FROM",
    "drop table objects",
    "INSERT INTO objects VALUES (1)",
    "UPDATE objects SET x = 0",
    "CREATE MAP test",
    "SHOW MAPS",
    "DROP MAP scene",
    "BEGIN; COMMIT;",
    "1; DROP TABLE users",
    "' OR 1=1 --",
    "<script>alert(1)</script>",
    "{\"query\": null}",
    "rm -rf /",
    "select",
    "SELECT",
    "select *",
    "from",
    "where",
    "insert",
    "update",
    "delete",
    "SELECT 1",
];

/// A text that asks nothing of the map, as pieces.
pub fn decline(names: &Names, rng: &mut ChaCha8Rng) -> Vec<Piece> {
    let text = |s: String| vec![Piece::Text(s)];
    let a_type = |rng: &mut ChaCha8Rng| -> Piece {
        let index = rng.random_range(0..names.types.len());
        Piece::Type {
            index,
            text: plural(&names.types[index].0),
        }
    };
    match rng.random_range(0..100) {
        0..=14 => text(pick(rng, &SMALL_TALK).to_string()),
        15..=27 => text(pick(rng, &ELSEWHERE).to_string()),
        28..=45 => text(pick(rng, &FOREIGN).to_string()),
        // Rare: unfamiliar words around a type are more often informal English than another
        // language, and the model should not learn to refuse them.
        46..=47 => {
            let form = pick(rng, &FOREIGN_COMMANDS);
            let (before, after) = form.split_once("{}").unwrap_or((form, ""));
            vec![
                Piece::Text(before.trim().to_string()),
                a_type(rng),
                Piece::Text(after.trim().to_string()),
            ]
        }
        48..=63 => {
            let form = pick(rng, &WRITES);
            match form.split_once("{}") {
                Some((before, after)) => vec![
                    Piece::Text(before.trim().to_string()),
                    a_type(rng),
                    Piece::Text(after.trim().to_string()),
                ],
                None => text(form.to_string()),
            }
        }
        64..=70 => text(pick(rng, &SQL).to_string()),
        71..=82 => {
            // Word salad of object words the map does not have.
            let n = rng.random_range(2..8);
            let words: Vec<&str> = (0..n)
                .filter_map(|_| object_words().choose(rng).copied())
                .filter(|w| !names.types.iter().any(|(t, _)| t == w))
                .collect();
            text(words.join(" "))
        }
        83..=88 => text(punctuation(rng)),
        _ => text(garbage(rng)),
    }
}

/// Runs of punctuation: "!!!???...", "?!", "--- ***".
fn punctuation(rng: &mut ChaCha8Rng) -> String {
    const MARKS: [char; 12] = ['!', '?', '.', ',', '-', '*', '#', '~', ';', ':', '/', '+'];
    let runs = rng.random_range(1..4);
    let mut out = String::new();
    for k in 0..runs {
        if k > 0 && rng.random_bool(0.3) {
            out.push(' ');
        }
        let c = MARKS.choose(rng).copied().unwrap_or('!');
        for _ in 0..rng.random_range(1..5) {
            out.push(c);
        }
    }
    out
}

/// Random characters: letters, digits, symbols, other scripts.
fn garbage(rng: &mut ChaCha8Rng) -> String {
    const POOLS: [&str; 5] = [
        "abcdefghijklmnopqrstuvwxyz",
        "abcdefghijklmnopqrstuvwxyz0123456789",
        "!@#$%^&*()_+-=[]{};':\",./<>?\\|`~",
        "абвгдежзийклмнопрстуфхцчшщыэюя",
        "的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年",
    ];
    let pool: Vec<char> = pick(rng, &POOLS).chars().collect();
    let words = rng.random_range(1..6);
    let mut out = Vec::new();
    for _ in 0..words {
        let len = rng.random_range(1..12);
        let w: String = (0..len).filter_map(|_| pool.choose(rng).copied()).collect();
        out.push(w);
    }
    if rng.random_bool(0.1) {
        let c = pool.choose(rng).copied().unwrap_or('x');
        return std::iter::repeat_n(c, rng.random_range(3..40)).collect();
    }
    out.join(" ")
}
