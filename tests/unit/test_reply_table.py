"""How people really answer a marketing SMS: one row per reply, what it means, what is reviewed.

Each row is (reply, expected intent, whether review_reason flags it). The opt-outs read anywhere
in a short reply, the guards that keep ordinary sentences ordinary, and the replies a person
must read (blocked matches, long replies, "plus de sms", weak keywords near "sms"/"list") are
explained in docs/KEYWORDS.md; the comments here only say which rule a group of rows exercises.
"""

from __future__ import annotations

import pytest

from stopsms.rules.keywords import MAX_AUTO_WORDS, Intent, Scope, classify, review_reason

OUT, IN, HELP = Intent.OPT_OUT, Intent.OPT_IN, Intent.HELP
FLAG, KEEP = True, False  # review_reason flags the reply / returns None

# Long replies: over MAX_AUTO_WORDS words, so the anywhere rule never applies them.
_CHATTY = (
    "Bonjour, je voulais savoir si vous aviez encore la promo sur les pneus car je dois "
    "changer les miens avant les vacances avec ma femme et mes deux enfants"
)
LONG_STOP = f"{_CHATTY}, et stop aux sms le dimanche svp"
LONG_UNSUBSCRIBE = f"{_CHATTY} et désabonnez moi des sms du dimanche svp merci"
LONG_OBJECTION = f"{_CHATTY}. Sinon merci de ne plus m'envoyer de SMS"
LONG_PLAIN = f"{_CHATTY}. Merci de me rappeler au plus vite"

ROWS: list[tuple[str, Intent | None, bool]] = [
    # --- the examples of the issue -----------------------------------------------------------
    ("S.T.O.P", OUT, KEEP),
    ("S T O P", OUT, KEEP),
    ("STOPPP", OUT, KEEP),
    ("STOPSMS", OUT, KEEP),
    ("OK STOP", OUT, KEEP),
    ("Stp stop", OUT, KEEP),
    ("Please stop", OUT, KEEP),
    ("Merci de ne plus m'envoyer de SMS", OUT, KEEP),
    ("Je ne veux plus recevoir vos sms", OUT, KEEP),
    ("Désinscrivez-moi", OUT, KEEP),
    ("don't stop me now", None, FLAG),
    ("Non-stop ?", None, FLAG),
    ("Quel est l'arrêt le plus proche ?", None, FLAG),
    ("Je ne veux pas arrêter", None, FLAG),
    # --- first-word rule, unchanged ----------------------------------------------------------
    ("STOP", OUT, KEEP),
    ("stop", OUT, KEEP),
    ("Stop merci", OUT, KEEP),
    ("STOP 36111", OUT, KEEP),
    ("stop svp!!", OUT, KEEP),
    ("Stop, je ne veux plus", OUT, KEEP),
    ("Stop, don't stop", OUT, KEEP),  # the first word wins over the negation that follows
    ("🛑 STOP 🛑", OUT, KEEP),
    ("ＳＴＯＰ", OUT, KEEP),
    ("Stop ✋", OUT, KEEP),
    ("STOP STOP STOP", OUT, KEEP),
    ("STOPALL", OUT, KEEP),
    ("stop tout", OUT, KEEP),
    ("Stop all", OUT, KEEP),
    ("Arret", OUT, KEEP),
    ("ARRET svp", OUT, KEEP),
    ("arrete", OUT, KEEP),
    ("Arrêtez !", OUT, KEEP),
    ("arrêtez de m'envoyer des pubs", OUT, KEEP),
    ("Desabonner", OUT, KEEP),
    ("desinscription svp", OUT, KEEP),
    ("UNSUBSCRIBE", OUT, KEEP),
    ("unsub", OUT, KEEP),
    ("Cancel my order", OUT, KEEP),  # a sentence starting with a keyword stays an opt-out
    ("End of story", OUT, KEEP),
    ("Remove me from your list", OUT, KEEP),
    ("quit", OUT, KEEP),
    ("OPT OUT", OUT, KEEP),
    ("TD", OUT, KEEP),
    ("Start", IN, KEEP),
    ("START svp", IN, KEEP),
    ("unstop", IN, KEEP),
    ("Aide ?", HELP, KEEP),
    ("help", HELP, KEEP),
    ("INFO", HELP, KEEP),
    # A first-word keyword other than an opt-out keeps its meaning; the opt-out after it is
    # left to a person.
    ("Aide, comment me désabonner ?", HELP, FLAG),
    ("Start, sorry I said stop", IN, FLAG),
    # --- obfuscated STOP forms, anywhere -----------------------------------------------------
    ("s-t-o-p", OUT, KEEP),
    ("S. T. O. P.", OUT, KEEP),
    ("merci s.t.o.p", OUT, KEEP),
    ("stooop", OUT, KEEP),
    ("Stooooop !!!", OUT, KEEP),
    ("STOP36111", OUT, KEEP),  # the mention copied without its space
    ("stop36111 merci", OUT, KEEP),
    ("36111 STOP", OUT, KEEP),
    ("StopSvp", OUT, KEEP),
    ("merci stop", OUT, KEEP),
    ("pls stop", OUT, KEEP),
    ("Merci mais stop 🙏", OUT, KEEP),
    ("J'en ai marre stop!!!", OUT, KEEP),
    ("bonjour, STOP svp", OUT, KEEP),
    ("Oui stop", OUT, KEEP),
    ("You guys need to stop", OUT, KEEP),
    ("stop texting me", OUT, KEEP),
    ("Ok merci, stop tout", OUT, KEEP),
    ("Merci STOPALL", OUT, KEEP),
    ("please STOP ALL", OUT, KEEP),
    # Punctuation is a clause boundary: a "no", then a stop.
    ("Non, stop !", OUT, KEEP),
    ("Non. STOP", OUT, KEEP),
    ("non merci stop", OUT, KEEP),
    ("Non!! Stop", OUT, KEEP),
    ("not interested, stop", OUT, KEEP),
    ("not interested stop", OUT, KEEP),  # "interested" closes the negation
    ("pas besoin stop", OUT, KEEP),
    ("I never signed up, stop", OUT, KEEP),
    # --- strong words, anywhere --------------------------------------------------------------
    ("Svp arrêtez", OUT, KEEP),
    ("ça suffit arrêtez", OUT, KEEP),
    ("svp arrete de m'envoyer des messages", OUT, KEEP),
    ("Vous pouvez arrêter les sms ?", OUT, KEEP),
    ("Merci de me désabonner", OUT, KEEP),
    ("Comment se désabonner ?", OUT, KEEP),
    ("je veux me desinscrire", OUT, KEEP),
    ("Bonjour, désinscription svp", OUT, KEEP),
    ("Pls unsubscribe me", OUT, KEEP),
    ("How do I opt out?", OUT, KEEP),
    ("I already opted out!", OUT, KEEP),
    # --- objection phrases: French -----------------------------------------------------------
    ("ne m'envoyez plus de messages", OUT, KEEP),
    ("retirez-moi de votre liste", OUT, KEEP),
    ("supprimez mon numéro", OUT, KEEP),
    ("je ne souhaite plus être contacté", OUT, KEEP),
    ("Merci de ne plus me contacter", OUT, KEEP),
    ("Merci de ne plus m ecrire", OUT, KEEP),
    ("je veux plus recevoir de pub", OUT, KEEP),
    ("Je ne veux plus de vos sms !", OUT, KEEP),
    ("plus jamais de sms svp", OUT, KEEP),
    ("je n'en veux plus merci", OUT, KEEP),
    ("Je veux pas de vos pubs", OUT, KEEP),
    ("Bonjour, je ne souhaite pas être sollicitée par sms", OUT, KEEP),
    ("je demande l'arrêt des envois", OUT, KEEP),
    ("l'arret des sms svp", OUT, KEEP),
    ("Merci de me supprimer de vos fichiers", OUT, KEEP),
    ("Laissez-moi tranquille", OUT, KEEP),
    ("Fichez moi la paix avec vos promos", OUT, KEEP),
    ("svp retirez mon numero", OUT, KEEP),
    ("N'envoyez plus rien svp", OUT, KEEP),
    ("bjr je ne veux plus etre derangee", OUT, KEEP),
    ("Suppression de mon numéro svp", OUT, KEEP),
    ("Merci de ne plus m'importuner", OUT, KEEP),
    ("Merci de ne pas me recontacter", OUT, KEEP),
    ("Ne me rappelez plus", OUT, KEEP),
    ("ne m'envoyez plus rien", OUT, KEEP),
    # --- objection phrases: English ----------------------------------------------------------
    ("don't text me again", OUT, KEEP),
    ("do not contact me", OUT, KEEP),
    ("no more messages", OUT, KEEP),
    ("take me off your list", OUT, KEEP),
    ("leave me alone", OUT, KEEP),
    ("Please remove my number", OUT, KEEP),
    ("I don't want your texts", OUT, KEEP),
    ("pls dont send me any more messages", OUT, KEEP),
    ("Can you quit texting me", OUT, KEEP),
    ("no more promos plz", OUT, KEEP),
    ("Hi, please opt me out", OUT, KEEP),
    ("Please do not text.", OUT, KEEP),
    # --- found by an adversarial pass: meant as objections, once neither applied nor flagged --
    # Digits standing for letters, read inside a word that has letters (trailing digits stay).
    ("ST0P", OUT, KEEP),
    ("St0p", OUT, KEEP),
    ("5TOP", OUT, KEEP),
    ("5T0P !", OUT, KEEP),
    ("ST0P36111", OUT, KEEP),  # a code that reads STOP is STOP, like STOP36111
    ("STOP0", OUT, KEEP),
    ("S.T.0.P", OUT, KEEP),
    ("merci st0p svp", OUT, KEEP),
    ("5TOP ALL", OUT, KEEP),
    ("d3sabonnez moi", OUT, KEEP),
    ("\u0405\u0422\u041e\u0420", OUT, KEEP),  # STOP typed with Cyrillic lookalikes
    ("merci S\u0422\u041eP", OUT, KEEP),
    ("\u0421\u043f\u0430\u0441\u0438\u0431\u043e", None, KEEP),  # Russian "thank you"
    ("don't st0p", None, FLAG),  # the guards read the digits too
    ("Top 5 ?", None, KEEP),
    ("5 top", None, KEEP),
    ("t0p", None, KEEP),
    ("Ouvert 7j/7 et h24 ?", None, KEEP),
    ("36111", None, KEEP),
    # Invisible format characters neither split nor hide a word.
    ("S\u200bT\u200bO\u200bP", OUT, KEEP),
    ("ST\u00adOP", OUT, KEEP),
    ("STOP\ufeff", OUT, KEEP),
    ("\u2060STOP", OUT, KEEP),
    ("S\u200cT\u200dO\u200eP", OUT, KEEP),
    ("merci \u202estop\u202c", OUT, KEEP),
    ("désa\u00adbonner", OUT, KEEP),
    ("\u3164STOP", OUT, KEEP),  # a blank Hangul filler, a "letter" that shows nothing
    ("non\u200b-stop ?", None, FLAG),
    ("week\u200bend", None, KEEP),
    ("bon\u00adjour", None, KEEP),
    # English: "no longer want", "don't send me anything (else)", "no more".
    ("I no longer want these texts", OUT, KEEP),
    ("I don't want these messages anymore", OUT, KEEP),
    ("Do not send me anything else", OUT, KEEP),
    ("Don't send me anything anymore", OUT, KEEP),
    ("Please don't text me anymore", OUT, KEEP),
    ("never send me anything again", OUT, KEEP),
    ("I do not wish to receive messages", OUT, KEEP),
    ("I no longer wish to be contacted", OUT, KEEP),
    ("I don't need any more texts", OUT, KEEP),
    ("I don't want you to text me anymore", OUT, KEEP),
    ("I don't want to be on your list", OUT, KEEP),
    ("dont want ur texts", OUT, KEEP),
    ("No more!", OUT, KEEP),
    ("please no more", OUT, KEEP),
    ("I no longer want to wait", None, KEEP),
    ("I don't want to wait", None, KEEP),
    ("don't send me the invoice by post", None, KEEP),  # like "la facture papier" below
    ("Don't send me the wrong size again", None, KEEP),
    ("Why didn't you send me anything?", None, KEEP),
    ("You never send me anything", None, FLAG),  # a complaint: a person decides
    ("Is there no more?", None, KEEP),
    ("No more than 2 texts a week please", None, KEEP),
    # French: "me retirer" ends the request; "retirer" + an object is about something else.
    ("Merci de me retirer", OUT, KEEP),
    ("Retirez-moi", OUT, KEEP),
    ("retirer mon numéro", OUT, KEEP),
    ("Veuillez me retirer de la liste", OUT, KEEP),
    ("enlevez-moi de vos listes", OUT, KEEP),
    ("Enlevez moi svp", OUT, KEEP),
    ("je souhaite être retirée", OUT, KEEP),
    ("je ne veux plus faire partie de votre liste", OUT, KEEP),
    ("je ne veux plus que vous m'envoyiez de sms", OUT, KEEP),
    ("je veux pas qu'on me contacte", OUT, KEEP),
    ("Ce n'est pas qu'on me dérange", None, KEEP),
    ("Merci de ne plus m'envoyer quoi que ce soit", OUT, KEEP),
    ("Lâchez-moi !", OUT, KEEP),
    ("Merci de ne pas me retirer", None, FLAG),
    ("Retirer ma commande", None, KEEP),
    ("je vais retirer mon colis", None, KEEP),
    ("Pouvez-vous m'enlever ce doute ?", None, KEEP),
    ("Il va me retirer mon permis", None, KEEP),
    ("lâche moi un com", None, KEEP),
    # Dashes: glued to a word, any dash is a hyphen (phones turn "-" into en/em dashes); with
    # spaces on both sides it ends a clause.
    ("Non–stop ?", None, FLAG),
    ("Non—stop", None, FLAG),
    ("Non\u2010stop", None, FLAG),
    ("Non\u2011stop ?", None, FLAG),
    ("Non\u2012stop", None, FLAG),
    ("Non\u2212stop", None, FLAG),
    ("Non--stop", None, FLAG),
    ("Non -stop", None, FLAG),
    ("Ouvert non–stop le dimanche ?", None, FLAG),
    ("Non – stop", OUT, KEEP),
    ("Non — stop", OUT, KEEP),
    ("Non - stop", OUT, KEEP),
    ("Non \u2010 stop", OUT, KEEP),
    ("merci—stop", OUT, KEEP),
    ("s–t–o–p", OUT, KEEP),
    # The same families, typed in a hurry.
    ("plz stop", OUT, KEEP),
    ("stop pls", OUT, KEEP),
    ("Bon ok stop!!!!", OUT, KEEP),
    ("merci STOP STOP", OUT, KEEP),
    ("stoooop svp", OUT, KEEP),
    ("Sotp", OUT, KEEP),
    ("stpo merci", OUT, KEEP),
    ("arrete svp", OUT, KEEP),
    ("aretez svp", OUT, KEEP),
    ("Arrettez !", OUT, KEEP),
    ("unsuscribe", OUT, KEEP),
    ("unsusbcribe me", OUT, KEEP),
    ("pls unscribe", OUT, KEEP),
    ("desinscrire", OUT, KEEP),
    ("désabo svp", OUT, KEEP),
    ("Il y a une arête dans le poisson", None, KEEP),
    ("spot", None, KEEP),
    ("stpp merci", None, KEEP),
    ("unscripted", None, KEEP),
    # A weak keyword with only courtesy words around it: no sentence, so maybe an opt-out.
    ("please remove", None, FLAG),
    ("ok cancel", None, FLAG),
    ("Merci, annuler svp", None, FLAG),
    ("merci td", None, KEEP),  # two letters are too often something else
    # --- found by a second adversarial pass: objections without a keyword (GDPR art. 21) ----
    # Ceasing what is sent: "cessez de m'envoyer", "cessez vos envois", "cease sending".
    ("Cessez de m'envoyer des SMS", OUT, KEEP),
    ("Arrêtez de m'envoyer des SMS", OUT, KEEP),
    ("cessez vos envois", OUT, KEEP),
    ("Cessez les SMS", OUT, KEEP),
    ("Cessez de me contacter svp", OUT, KEEP),
    ("cessez d'envoyer des sms", OUT, KEEP),
    ("Je veux cesser de recevoir vos pubs", OUT, KEEP),
    ("Cessez !", OUT, KEEP),
    ("cease sending me texts", OUT, KEEP),
    ("Cease all contact", OUT, KEEP),
    ("cease and desist", OUT, KEEP),
    # Opposing, objecting: to the messages, the contact, the data.
    ("Je m'oppose à la réception de vos SMS", OUT, KEEP),
    ("je m'oppose à vos SMS", OUT, KEEP),
    ("je m'oppose au traitement de mes données", OUT, KEEP),
    ("Je m'oppose à ce que vous m'envoyiez des SMS", OUT, KEEP),
    ("Je m'y oppose formellement", OUT, KEEP),
    ("Opposition au démarchage", OUT, KEEP),
    ("opposition aux SMS", OUT, KEEP),
    ("J'exerce mon droit d'opposition", OUT, KEEP),
    ("droit d'opposition", OUT, KEEP),
    ("I object to your texts", OUT, KEEP),
    ("I strongly object to receiving your messages", OUT, KEEP),
    ("I object!", OUT, KEEP),
    ("I exercise my right to object", OUT, KEEP),
    # Refusing the messages; withdrawing consent.
    ("Je refuse de recevoir vos SMS", OUT, KEEP),
    ("je refuse vos SMS", OUT, KEEP),
    ("Je refuse d'être contacté", OUT, KEEP),
    ("je refuse tout démarchage", OUT, KEEP),
    ("Je ne souhaite plus recevoir vos offres", OUT, KEEP),
    ("I refuse to receive your messages", OUT, KEEP),
    ("I refuse these texts", OUT, KEEP),
    ("I withdraw my consent", OUT, KEEP),
    ("retirez mon consentement", OUT, KEEP),
    ("je retire mon consentement", OUT, KEEP),
    ("I do not consent", OUT, KEEP),
    ("je ne consens plus", OUT, KEEP),
    # Not about the messages, or denied: never applied; the objection words are reviewed.
    ("Cessez de vous moquer de moi", None, KEEP),
    ("Cessez de m'envoyer des factures", None, KEEP),  # like "la facture papier" below
    ("Cease fire", None, KEEP),
    ("je ne refuse pas vos offres", None, KEEP),
    ("Pourquoi refuser ?", None, KEEP),
    ("Je refuse de payer ce prix", None, KEEP),
    ("Je refuse votre offre", None, KEEP),  # declining one offer
    ("What is this object?", None, KEEP),
    ("Opposite the station?", None, KEEP),
    ("Je refuse", None, FLAG),  # a weak word with only a subject: maybe an objection
    ("Je ne m'oppose pas", None, FLAG),
    ("I'm not opposed to your texts", None, FLAG),
    ("Aucune opposition à vos SMS", None, FLAG),
    ("I have no objection to your texts", None, FLAG),
    ("je m'oppose à la hausse des prix", None, FLAG),
    ("Je fais opposition sur ma carte", None, FLAG),
    ("I never consented to this", None, FLAG),
    ("Vous m'envoyez sans cesse des SMS", None, FLAG),  # "constantly": a complaint
    ("Vous ne cessez de m'envoyer des sms", None, FLAG),
    # --- found by a second adversarial pass: "stop" as a noun (a bus or train stop) --------
    ("What's the closest stop?", None, FLAG),
    ("Which stop should I get off at?", None, FLAG),
    ("Where is the nearest stop?", None, FLAG),
    ("is this my stop?", None, FLAG),
    ("the next stop please", None, FLAG),
    ("what stop is it", None, FLAG),
    ("bus stop near the shop?", None, FLAG),
    ("Is this the right stop for the mall?", None, FLAG),
    ("Get off at stop 5?", None, FLAG),
    ("Which train stop is closest?", None, FLAG),
    ("last stop?", None, FLAG),
    ("That stop is closed", None, FLAG),
    ("Does this bus go to your stop?", None, FLAG),
    # The verb stays the verb: "stop" then its object, "make this stop", "stop" first.
    ("stop the messages", OUT, KEEP),
    ("please stop the texts", OUT, KEEP),
    ("Can you stop the messages", OUT, KEEP),
    ("Please make this stop", OUT, KEEP),
    ("STOP please", OUT, KEEP),
    ("just stop", OUT, KEEP),
    ("stop it", OUT, KEEP),
    ("Stop now", OUT, KEEP),
    ("I said stop", OUT, KEEP),
    ("stop all messages", OUT, KEEP),
    ("STOP SMS", OUT, KEEP),
    # --- guarded: not applied, left to a person ----------------------------------------------
    ("never stop", None, FLAG),
    ("I won't stop buying", None, FLAG),
    ("Please don't stop the offers", None, FLAG),
    ("I don't want you to stop", None, FLAG),
    ("n'arrêtez pas les promos !", None, FLAG),
    ("je veux pas arrêter mon abonnement", None, FLAG),
    ("je ne veux pas me désabonner", None, FLAG),
    ("Don't unsubscribe me!", None, FLAG),
    ("je n'ai jamais demandé ça stop", None, FLAG),  # price of the 4-word negation window
    ("nonstop", None, FLAG),
    ("Non stop ?", None, FLAG),
    ("Ouvert non stop ?", None, FLAG),
    ("Le magasin est ouvert non-stop le samedi ?", None, FLAG),
    ("Meet me at the bus stop", None, FLAG),
    ("pit stop rapide 😅", None, FLAG),
    ("I love stop-motion films", None, FLAG),
    ("I'll stop by tomorrow", None, FLAG),
    ("je fais du stop", None, FLAG),
    ("c'est à quel arrêt ?", None, FLAG),
    ("le prochain arrêt c'est où", None, FLAG),
    ("Il y a un arrêt de bus à côté ?", None, FLAG),
    ("C'est où l'arrêt de bus ?", None, FLAG),
    ("Je suis en arrêt maladie", None, FLAG),
    ("j'ai arrêté de fumer 😄", None, FLAG),
    ("ça s'arrête quand la promo ?", None, FLAG),
    ("Le bus s'est arrêté", None, FLAG),
    ("Il faut que j'arrête de dépenser lol", None, FLAG),
    ("Je n'arrête pas de recevoir vos sms", None, FLAG),  # a complaint: a person decides
    ("I can't stop smiling", None, FLAG),
    ("Pourquoi vous ne m'envoyez plus de promos ?", None, FLAG),
    # "plus de sms": more, or no more?
    ("Plus de SMS svp", None, FLAG),
    ("je veux plus de sms gratuits", None, FLAG),
    ("Plus de promos comme ça ! 😍", None, FLAG),
    # Weak keywords near "sms", "message", "list", "abonnement"...
    ("Please cancel my subscription", None, FLAG),
    ("I want to end these messages", None, FLAG),
    ("Je voudrais annuler mon abonnement sms", None, FLAG),
    # Too long to be applied automatically.
    (LONG_STOP, None, FLAG),
    (LONG_UNSUBSCRIBE, None, FLAG),
    (LONG_OBJECTION, None, FLAG),
    # --- found by a third adversarial pass: names and things that stop, once applied ----------
    # STOP starting a name: a hyphen and a word that is no tail, or "&"/"or"/"ou" + one word.
    ("Stop-over à Paris ?", None, FLAG),
    ("Stop & Go c'est où ?", None, FLAG),
    ("Stop or encore ?", None, FLAG),
    ("stop-and-go", None, FLAG),
    ("stopover", None, KEEP),  # glued without a dash: no STOP at all
    ("STOP&GO", None, FLAG),
    ("Stop ou encore c'est quand ?", None, FLAG),
    ("Stop'n'go", None, FLAG),
    ("Stop–over", None, FLAG),  # any dash glued to the word is a hyphen
    ("Vous faites des stop-over ?", None, FLAG),
    ("Le stop-and-go c'est fatigant", None, FLAG),
    # ... but a tail, what is sent, an object or a sentence going on keeps the keyword.
    ("Stop-sms", OUT, KEEP),
    ("STOP-PUB", OUT, KEEP),
    ("STOP-36111", OUT, KEEP),
    ("Stop-it", OUT, KEEP),
    ("Stop or I'll sue", OUT, KEEP),
    ("Stop ou je porte plainte", OUT, KEEP),
    ("Stop or else", OUT, KEEP),
    ("Stop et merci", OUT, KEEP),
    ("Stop and go away", OUT, KEEP),
    ("Stop & leave me alone", OUT, KEEP),
    # Something else that stops: a question about when, or about a sale, a shop, an offer.
    ("Vous arrêtez quand les soldes ?", None, FLAG),
    ("Quand arrêtez-vous la promo ?", None, FLAG),
    ("When does the sale stop?", None, FLAG),
    ("Does the offer stop tomorrow?", None, FLAG),
    ("La promo s'arrête quand ?", None, FLAG),
    ("Ça s'arrête quand ?", None, FLAG),
    ("À quelle heure arrêtez-vous les promos ?", None, FLAG),
    ("What time does the shop stop?", None, FLAG),
    ("When will the promo stop?", None, FLAG),
    ("Vous arrêtez ce produit ?", None, FLAG),
    ("Arrêtez-vous les soldes ?", None, FLAG),
    ("Je veux savoir quand vous arrêtez la promo", None, FLAG),
    ("La boutique stoppe quand ?", None, FLAG),
    ("Vous arrêtez quand ?", None, FLAG),  # when what stops? a person decides
    # ... unless the clause names the messages or reaching me; after the verb an offer is what
    # is sent; "quand" before I/it is a conjunction; STOP first is the keyword of the mention.
    ("Vous arrêtez quand de m'envoyer des SMS ?", OUT, KEEP),
    ("Quand est-ce que vous arrêtez de m'écrire ?", OUT, KEEP),
    ("When will you stop texting me?", OUT, KEEP),
    ("What time do you stop sending these?", OUT, KEEP),
    ("Quand allez-vous arrêter les SMS ?", OUT, KEEP),
    ("Can you stop the promos?", OUT, KEEP),
    ("Vous pouvez arrêter les promos ?", OUT, KEEP),
    ("Quand je dis stop c'est stop", OUT, KEEP),
    ("Arrêtez quand même !", OUT, KEEP),
    ("Stop quand ?", OUT, KEEP),
    ("Vos promos stop !", OUT, KEEP),
    ("Stop, c'est quand les soldes ?", OUT, KEEP),
    # "arrêter de" + an infinitive that is not about sending or reaching me.
    ("Arrêtez de me faire rêver avec ces prix !", None, FLAG),
    ("Arrête de mentir", None, FLAG),
    ("Arrêtez d'être aussi chers", None, FLAG),
    ("Stoppez de baisser les prix, je n'arrive pas à suivre", None, FLAG),
    ("Arrêtez de m'écrire", OUT, KEEP),
    ("Arrêtez de me spammer", OUT, KEEP),
    ("Arrêtez de m'embêter", OUT, KEEP),
    ("Arrêtez de polluer mon téléphone", OUT, KEEP),
    ("Arrêtez de suite", OUT, KEEP),  # "de suite" is "right away", no infinitive
    # The keyword itself, with what follows it.
    ("Stop ?", OUT, KEEP),
    ("Stop !!!", OUT, KEEP),
    ("Stop svp", OUT, KEEP),
    ("Stop the messages", OUT, KEEP),
    ("Arrêtez tout", OUT, KEEP),
    ("Arrêtez-moi ça", OUT, KEEP),
    # "$" glued before a letter is an S; "Stp" alone and a split STOP are read by a person.
    ("$TOP", OUT, KEEP),
    ("merci $top", OUT, KEEP),
    ("$T0P !", OUT, KEEP),
    ("$ave 20% ?", None, KEEP),
    ("Stp", None, FLAG),
    ("STP !!", None, FLAG),
    ("Sto p", None, FLAG),
    ("st op", None, FLAG),
    ("Stp merci", None, KEEP),
    ("C'est top", None, KEEP),
    # --- plain replies: no opt-out word --------------------------------------------------------
    ("Merci !", None, KEEP),
    ("weekend", None, KEEP),
    ("Oui", None, KEEP),
    ("I want to cancel my order", None, KEEP),
    ("My son wants to quit football", None, KEEP),
    ("See you at the end of the month", None, KEEP),
    ("the end", None, KEEP),
    ("I'd like to remove an item from my cart", None, KEEP),
    ("Bon weekend", None, KEEP),
    ("standard", None, KEEP),
    ("The rain stopped", None, KEEP),
    ("stp rappelez moi", None, KEEP),
    ("ok merci", None, KEEP),
    ("yes", None, KEEP),
    ("Non", None, KEEP),
    ("C'est quoi ce numéro ?", None, KEEP),
    ("Bonjour, c'est qui ?", None, KEEP),
    ("Rappelez-moi svp", None, KEEP),
    ("Je ne peux plus contacter le service client", None, KEEP),
    ("Je ne reçois plus vos sms", None, KEEP),  # a complaint, not an objection
    ("Merci de ne plus m'envoyer la facture papier", None, KEEP),  # about invoices, not SMS
    ("retrait de mon colis demain ?", None, KEEP),
    ("I don't text much", None, KEEP),
    ("Can you send me more info?", None, KEEP),
    ("Envoyez-moi plus d'infos", None, KEEP),
    ("Why don't you text me anymore?", None, KEEP),
    ("Top ! merci", None, KEEP),
    ("Super offre 👍", None, KEEP),
    ("C'est combien ?", None, KEEP),
    ("Je passe demain", None, KEEP),
    ("Tout est ok", None, KEEP),
    ("Pas de souci", None, KEEP),
    ("pas mal !", None, KEEP),
    ("Je suis intéressé", None, KEEP),
    ("Stopover in Paris?", None, KEEP),
    ("arretons", None, KEEP),
    ("stoppait", None, KEEP),
    ("Vous pouvez me retirer le colis ?", None, KEEP),
    ("je ne veux plus", None, KEEP),
    (LONG_PLAIN, None, KEEP),
    ("😀", None, KEEP),
    ("🛑", None, KEEP),
    ("", None, KEEP),
]

# Every other opt-out of the table has scope BRAND.
SCOPE_ALL = {
    "STOPALL",
    "stop tout",
    "Stop all",
    "Ok merci, stop tout",
    "Merci STOPALL",
    "please STOP ALL",
    "5TOP ALL",
    "stop all messages",
}


def _id(reply: str) -> str:
    return reply[:48] or "<empty>"


@pytest.mark.parametrize(("reply", "intent", "flagged"), ROWS, ids=[_id(r[0]) for r in ROWS])
def test_reply(reply: str, intent: Intent | None, flagged: bool) -> None:
    result = classify(reply)
    assert result.intent is intent
    assert result.scope is (Scope.ALL if reply in SCOPE_ALL else Scope.BRAND)
    reason = review_reason(reply, result)
    assert (reason is not None) is flagged, reason


def test_table_is_large_and_balanced() -> None:
    replies = [reply for reply, _, _ in ROWS]
    assert len(replies) == len(set(replies)), "a reply appears twice"
    opt_outs = [r for r in ROWS if r[1] is OUT]
    others = [r for r in ROWS if r[1] is not OUT]
    assert len(ROWS) >= 150
    assert len(opt_outs) >= 60
    assert len(others) >= 60
    assert sum(1 for r in ROWS if r[2]) >= 30  # the review queue is exercised too
    assert set(replies) >= SCOPE_ALL


def test_long_replies_are_long() -> None:
    for reply in (LONG_STOP, LONG_UNSUBSCRIBE, LONG_OBJECTION, LONG_PLAIN):
        assert len(reply.split()) > MAX_AUTO_WORDS
        # The same words alone, short enough, are applied (the plain one has none).
        tail = reply.removeprefix(_CHATTY)
        assert (classify(tail).intent is OUT) is (reply != LONG_PLAIN)


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        ("don't stop me now", "contains 'stop' after a negation"),
        ("Je ne veux pas arrêter", "contains 'arreter' after a negation"),
        ("Non-stop ?", "contains 'stop' in a compound"),
        ("Quel est l'arrêt le plus proche ?", "contains 'arret' as a noun"),
        ("j'ai arrêté de fumer", "contains 'arrete' as a past tense or reflexive verb"),
        ("Plus de SMS svp", "contains 'plus de sms' (more or no more?)"),
        ("Please cancel my subscription", "contains 'cancel' near 'subscription'"),
        (LONG_STOP, "contains 'stop' in a long reply"),
        (LONG_OBJECTION, "contains 'plus m envoyer de sms' in a long reply"),
        ("Aide, comment me désabonner ?", "contains 'desabonner'"),
        ("Non–stop ?", "contains 'stop' in a compound"),
        ("don't st0p", "contains 'stop' after a negation"),
        ("You never send me anything", "contains 'never send me anything' after a subject pronoun"),
        ("Merci de ne pas me retirer", "contains 'me retirer' after a negation"),
        ("please remove", "contains 'remove' alone"),
        (
            "Pourquoi vous ne m'envoyez plus de promos ?",
            "contains 'ne m envoyez plus de promos' in a question",
        ),
        ("What's the closest stop?", "contains 'stop' as a noun"),
        ("Which train stop is closest?", "contains 'stop' in a compound"),
        ("Je ne m'oppose pas", "contains 'oppose' (an objection word)"),
        ("Aucune opposition à vos SMS", "contains 'opposition a vos sms' after a negation"),
        ("Vous m'envoyez sans cesse des SMS", "contains 'cesse des sms' in a compound"),
        ("Je refuse", "contains 'refuse' alone"),
        ("Stop-over à Paris ?", "contains 'stop' in a compound"),
        ("Stop & Go c'est où ?", "contains 'stop' in a compound"),
        ("When does the sale stop?", "contains 'stop' in a question about something else"),
        (
            "Vous arrêtez quand les soldes ?",
            "contains 'arretez' in a question about something else",
        ),
        ("Arrêtez de me faire rêver avec ces prix !", "contains 'arretez' about something else"),
        ("Stp", "contains 'stp' alone"),
        ("Sto p", "contains 'sto p' (a split stop)"),
    ],
)
def test_review_reasons_say_what_was_read(reply: str, reason: str) -> None:
    assert review_reason(reply, classify(reply)) == reason


@pytest.mark.parametrize(
    ("reply", "keyword"),
    [
        ("S.T.O.P", "STOP"),
        ("STOPPP", "STOP"),
        ("STOP36111", "STOP"),
        ("Please stop", "STOP"),
        ("Merci STOPALL", "STOPALL"),
        ("please STOP ALL", "STOP ALL"),
        ("Ok merci, stop tout", "STOP TOUT"),
        ("Svp arrêtez", "ARRETEZ"),
        ("Merci de me désabonner", "DESABONNER"),
        ("Pls unsubscribe me", "UNSUBSCRIBE"),
        ("How do I opt out?", "OPT-OUT"),
        ("Merci de ne plus m'envoyer de SMS", "objection"),
        ("ST0P", "STOP"),
        ("5TOP ALL", "STOP ALL"),
        ("S\u200bT\u200bO\u200bP", "STOP"),
        ("d3sabonnez moi", "DESABONNEZ"),
        ("aretez svp", "ARRETE"),
        ("unsuscribe", "UNSUBSCRIBE"),
        ("I no longer want these texts", "objection"),
        ("Merci de me retirer", "objection"),
        ("leave me alone", "objection"),
        ("Cessez de m'envoyer des SMS", "objection"),
        ("Je m'oppose à la réception de vos SMS", "objection"),
        ("I withdraw my consent", "objection"),
        ("stop the messages", "STOP"),
        ("Please make this stop", "STOP"),
        ("$TOP", "STOP"),
        ("Vous arrêtez quand de m'envoyer des SMS ?", "ARRETEZ"),
        ("When will you stop texting me?", "STOP"),
        ("Stop-sms", "STOP SMS"),
    ],
)
def test_keyword_reported_for_anywhere_matches(reply: str, keyword: str) -> None:
    assert classify(reply).keyword == keyword


def test_review_never_flags_an_opt_out_nor_an_empty_reply() -> None:
    for reply, intent, _ in ROWS:
        if intent is OUT:
            assert review_reason(reply, classify(reply)) is None
    assert review_reason(None, classify(None)) is None
    assert review_reason("", classify("")) is None
